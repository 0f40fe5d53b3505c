"""A model's ``semi_train_cfg`` as the model sees it: the config's values
(deprecated names moved to the current ones) over the code's
``default_train_cfg``, nested dicts merged key by key."""
import json
import warnings

from mmseg.registry import MODELS

from mmsemi.models.segmentors.semi_base import rename_deprecated_keys


def effective(defaults: dict, cfg: dict, renames: dict = None) -> dict:
    """``cfg`` over ``defaults``, nested dicts merged key by key (plain
    JSON values: tuples as lists); ``renames`` are the model's
    ``deprecated_train_cfg_keys``."""
    if renames:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', FutureWarning)
            cfg = rename_deprecated_keys(cfg, renames, 'semi_train_cfg')
    out = dict(defaults)
    for key, value in (cfg or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            value = effective(out[key], value)
        out[key] = value
    return json.loads(json.dumps(out, default=list))


def effective_train_cfg(model_cfg) -> dict:
    """The effective ``semi_train_cfg`` of a semi model config."""
    model = MODELS.get(model_cfg['type'])
    return effective(model.default_train_cfg, model_cfg.get('semi_train_cfg'),
                     model.deprecated_train_cfg_keys)
