"""A model's ``semi_train_cfg`` as the model sees it: the config's values
over the code's ``default_train_cfg``, nested dicts merged key by key."""
import json

from mmseg.registry import MODELS


def effective(defaults: dict, cfg: dict) -> dict:
    """``cfg`` over ``defaults``, nested dicts merged key by key (plain
    JSON values: tuples as lists)."""
    out = dict(defaults)
    for key, value in (cfg or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            value = effective(out[key], value)
        out[key] = value
    return json.loads(json.dumps(out, default=list))


def effective_train_cfg(model_cfg) -> dict:
    """The effective ``semi_train_cfg`` of a semi model config."""
    defaults = MODELS.get(model_cfg['type']).default_train_cfg
    return effective(defaults, model_cfg.get('semi_train_cfg'))
