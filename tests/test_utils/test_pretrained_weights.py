"""Pre-flight check of pretrained weights: what the message names."""
import os.path as osp
from urllib.error import URLError

import pytest

from mmsemi.utils.pretrained_weights import (PretrainedWeightsError,
                                             cached_download_path,
                                             check_pretrained_weights,
                                             find_weight_refs,
                                             missing_weights, remote_url)


def _model(**segmentor):
    return dict(type='UniMatch', segmentor=dict(type='EncoderDecoder',
                                                **segmentor))


def test_refs_name_their_config_keys():
    model = _model(
        pretrained='a.pth',
        backbone=dict(init_cfg=dict(type='Pretrained', checkpoint='b.pth')),
        auxiliary_head=[dict(init_cfg=[
            dict(type='Kaiming'),
            dict(type='Pretrained', checkpoint='c.pth')])])
    refs = {r.key: (r.value, r.clear_key) for r in find_weight_refs(model)}
    assert refs == {
        'model.segmentor.pretrained': ('a.pth', 'model.segmentor.pretrained'),
        'model.segmentor.backbone.init_cfg.checkpoint':
        ('b.pth', 'model.segmentor.backbone.init_cfg'),
        'model.segmentor.auxiliary_head.0.init_cfg.1.checkpoint':
        ('c.pth', 'model.segmentor.auxiliary_head.0.init_cfg'),
    }


def test_missing_local_file_names_file_key_converter_and_way_out(tmp_path):
    path = str(tmp_path / 'resnet101_deepstem_mmseg.pth')
    with pytest.raises(PretrainedWeightsError) as info:
        check_pretrained_weights(_model(pretrained=path))
    message = str(info.value)
    assert f"model.segmentor.pretrained = '{path}'" in message
    assert 'file not found' in message
    assert 'tools/model_converters/unimatch_resnet_to_mmseg.py' in message
    assert '--cfg-options model.segmentor.pretrained=None' in message
    assert 'model.pretrained=None' in message
    open(path, 'wb').close()
    check_pretrained_weights(_model(pretrained=path))  # present: fine


def test_unknown_local_file_points_to_the_converters(tmp_path):
    missing = missing_weights(_model(pretrained=str(tmp_path / 'x.pth')))
    assert 'tools/model_converters/' in missing[0].remedy


def test_remote_weight_offline_names_url_cache_and_reason(tmp_path,
                                                          monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    model = _model(pretrained='open-mmlab://resnet101_v1c')
    url = remote_url('open-mmlab://resnet101_v1c')
    assert url.startswith('https://') and url.endswith('.pth')
    calls = []

    def offline(url, dst):
        calls.append((url, dst))
        raise URLError('Name or service not known')

    with pytest.raises(PretrainedWeightsError) as info:
        check_pretrained_weights(model, downloader=offline)
    message = str(info.value)
    dst = cached_download_path(url)
    assert calls == [(url, dst)]
    assert dst.startswith(str(tmp_path))
    assert url in message and dst in message
    assert "model.segmentor.pretrained = 'open-mmlab://resnet101_v1c'" \
        in message
    assert 'URLError' in message


def test_remote_weight_cached_or_downloaded_passes(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    url = 'https://example.org/w/mit_b5.pth'
    model = _model(backbone=dict(
        init_cfg=dict(type='Pretrained', checkpoint=url)))

    def fake_download(url, dst):
        open(dst, 'wb').close()

    check_pretrained_weights(model, downloader=fake_download)
    assert osp.isfile(cached_download_path(url))
    # cached now: no download attempted
    check_pretrained_weights(model, downloader=None)
    # other local ranks leave remote weights to local rank 0
    assert missing_weights(_model(pretrained='https://x.org/y.pth'),
                           check_remote=False) == []


def test_wrapper_without_pretrained_loads_nothing():
    model = dict(_model(pretrained='missing.pth'), pretrained=None)
    check_pretrained_weights(model)


def test_package_scheme_is_checked():
    assert missing_weights(
        _model(pretrained='mmsemi://standin_r18s_shapes12.pth')) == []
    missing = missing_weights(_model(pretrained='mmsemi://nope.pth'))
    assert missing and missing[0].location.endswith('nope.pth')
