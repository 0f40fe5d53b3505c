import hashlib
import json

import numpy as np
import pytest

from mmsemi.datasets.splits import (SplitEntry, entry_to_name, fraction_name,
                                    make_split, num_from_fraction, read_names,
                                    read_split_file, split_manifest,
                                    write_split_dir, write_split_file)


def _write(path, text):
    path.write_text(text)
    return path


def test_read_split_file_detects_formats(tmp_path):
    path = _write(
        tmp_path / 'mixed.txt', '# a comment\n'
        '2007_000032\n'
        '\n'
        'aachen/aachen_000000_000019\n'
        'leftImg8bit/train/aachen/a_1_2_leftImg8bit.png\n'
        '  JPEGImages/x.jpg   SegmentationClass/x.png  \n'
        'frame.001\n')
    assert read_split_file(path) == [
        SplitEntry('2007_000032', '2007_000032', 2),
        SplitEntry('aachen/aachen_000000_000019',
                   'aachen/aachen_000000_000019', 4),
        SplitEntry('leftImg8bit/train/aachen/a_1_2_leftImg8bit.png', None, 5),
        SplitEntry('JPEGImages/x.jpg', 'SegmentationClass/x.png', 6),
        # not an image extension: still an mmseg name
        SplitEntry('frame.001', 'frame.001', 7),
    ]


def test_read_split_file_crlf_and_empty(tmp_path):
    path = _write(tmp_path / 'crlf.txt', 'a\r\nb\r\n')
    assert [e.img for e in read_split_file(path)] == ['a', 'b']
    assert read_split_file(_write(tmp_path / 'empty.txt', '\n# x\n')) == []


def test_read_split_file_errors(tmp_path):
    path = _write(tmp_path / 'bad.txt', 'a\nb\nx.jpg y.png z.png\n')
    with pytest.raises(ValueError, match=r'bad\.txt:3: .*3 fields'):
        read_split_file(path)
    with pytest.raises(FileNotFoundError, match='missing.txt'):
        read_split_file(tmp_path / 'missing.txt')


def test_write_split_file_roundtrip(tmp_path):
    path = tmp_path / 'sub' / 'dir' / 'labeled.txt'
    names = ['b', 'a', 'aachen/x_1']
    write_split_file(path, names)
    assert path.read_text() == 'b\na\naachen/x_1\n'
    assert read_names(path) == names
    write_split_file(tmp_path / 'none.txt', [])
    assert (tmp_path / 'none.txt').read_text() == ''


@pytest.mark.parametrize('names', [['a', 'a'], ['a b'], [''], ['x\n']])
def test_write_split_file_rejects_bad_names(tmp_path, names):
    with pytest.raises(ValueError):
        write_split_file(tmp_path / 'x.txt', names)


def test_make_split_properties():
    names = [f'img_{i:05d}' for i in range(1000)]
    labeled, unlabeled = make_split(names, 63, seed=3)
    assert len(labeled) == 63 and len(unlabeled) == 937
    assert not set(labeled) & set(unlabeled)
    assert set(labeled) | set(unlabeled) == set(names)
    # input order kept within each list
    assert labeled == sorted(labeled) and unlabeled == sorted(unlabeled)
    # deterministic, seed-dependent
    assert make_split(names, 63, seed=3) == (labeled, unlabeled)
    assert make_split(names, 63, seed=4)[0] != labeled
    # for one seed a smaller labeled set is a subset of a larger one
    assert set(make_split(names, 20, seed=3)[0]) <= set(labeled)


def test_make_split_matches_generator_permutation():
    names = list('abcdefgh')
    order = np.random.default_rng(7).permutation(8)[:3]
    expected = [names[i] for i in sorted(order)]
    assert make_split(names, 3, seed=7)[0] == expected


def test_make_split_edges():
    names = ['a', 'b', 'c']
    assert make_split(names, 0, 0) == ([], names)
    assert make_split(names, 3, 0) == (names, [])
    with pytest.raises(ValueError, match=r'\[0, 3\]'):
        make_split(names, 4, 0)
    with pytest.raises(ValueError, match='duplicate'):
        make_split(['a', 'a'], 1, 0)


@pytest.mark.parametrize('total,fraction,expected', [(10582, '1/16', 662),
                                                     (10582, '1/8', 1323),
                                                     (10582, '1/4', 2646),
                                                     (2975, '1/16', 186),
                                                     (2975, '1/8', 372),
                                                     (2975, '1/4', 744),
                                                     (2975, '1/2', 1488),
                                                     (2970, '0.1', 297),
                                                     (2970, 0.1, 297),
                                                     (2000, '1/16', 125)])
def test_num_from_fraction(total, fraction, expected):
    assert num_from_fraction(total, fraction) == expected


def test_fraction_name_and_bad_fraction():
    assert fraction_name('1/16') == '1_16'
    assert fraction_name('0.25') == '1_4'
    with pytest.raises(ValueError, match='fraction'):
        num_from_fraction(10, '3/2')


def test_split_manifest_and_dir(tmp_path):
    manifest = split_manifest(['a', 'b'], ['c'], seed=5, preset='custom')
    assert manifest['seed'] == 5
    assert manifest['num_labeled'] == 2
    assert manifest['num_unlabeled'] == 1
    assert manifest['num_total'] == 3
    assert manifest['preset'] == 'custom'
    assert manifest['labeled_sha1'] == hashlib.sha1(b'a\nb\n').hexdigest()

    written = write_split_dir(tmp_path / 's', ['a', 'b'], ['c'], seed=5)
    on_disk = json.loads((tmp_path / 's' / 'manifest.json').read_text())
    assert on_disk == written
    # the hash is that of the file, so `sha1sum labeled.txt` matches
    assert on_disk['labeled_sha1'] == hashlib.sha1(
        (tmp_path / 's' / 'labeled.txt').read_bytes()).hexdigest()
    with pytest.raises(ValueError, match='share 1'):
        write_split_dir(tmp_path / 't', ['a'], ['a', 'c'], seed=0)


@pytest.mark.parametrize('line,expected', [
    ('2007_000032', '2007_000032'),
    ('JPEGImages/2007_000032.jpg SegmentationClass/2007_000032.png',
     '2007_000032'),
    ('leftImg8bit/train/aachen/aachen_000000_000019_leftImg8bit.png '
     'gtFine/train/aachen/aachen_000000_000019_gtFine_labelTrainIds.png',
     'aachen/aachen_000000_000019'),
    ('./leftImg8bit/train/zurich/zurich_000001_000019_leftImg8bit.png',
     'zurich/zurich_000001_000019'),
])
def test_entry_to_name(tmp_path, line, expected):
    path = _write(tmp_path / 'one.txt', line + '\n')
    assert read_names(path) == [expected]


def test_entry_to_name_prefix_suffix():
    entry = SplitEntry('leftImg8bit/train/aachen/a_leftImg8bit.png', None, 4)
    assert entry_to_name(entry, img_prefix='leftImg8bit/train/') == 'aachen/a'
    assert entry_to_name(entry, img_suffix='.png') == 'a_leftImg8bit'
    with pytest.raises(ValueError, match=r'f\.txt:4: .*img_prefix'):
        entry_to_name(entry, img_prefix='leftImg8bit/val', path='f.txt')
    with pytest.raises(ValueError, match=r'f\.txt:4: .*img_suffix'):
        entry_to_name(entry, img_suffix='.jpg', path='f.txt')


def test_read_names_duplicate(tmp_path):
    path = _write(tmp_path / 'dup.txt',
                  'JPEGImages/a.jpg SegmentationClass/a.png\nb\na\n')
    with pytest.raises(ValueError, match=r'dup\.txt:3: .*line 1'):
        read_names(path)
