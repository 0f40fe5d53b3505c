import hashlib
import importlib.util
import json
import os.path as osp

import pytest

from mmsemi.datasets.splits import read_names, write_split_file

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _load_tool(rel_path):
    name = 'tool_' + osp.splitext(osp.basename(rel_path))[0]
    spec = importlib.util.spec_from_file_location(name,
                                                  osp.join(ROOT, rel_path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


split_dataset = _load_tool('tools/misc/split_dataset.py')
import_splits = _load_tool('tools/dataset_converters/import_splits.py')


def _names(prefix, num):
    return [f'{prefix}{i:06d}' for i in range(num)]


def _check_split(out, name, num_labeled, num_unlabeled, pool):
    labeled = read_names(osp.join(out, name, 'labeled.txt'))
    unlabeled = read_names(osp.join(out, name, 'unlabeled.txt'))
    assert (len(labeled), len(unlabeled)) == (num_labeled, num_unlabeled)
    assert len(set(labeled)) == num_labeled  # no duplicates
    assert not set(labeled) & set(unlabeled)
    assert set(labeled) | set(unlabeled) == set(pool)
    with open(osp.join(out, name, 'manifest.json')) as f:
        manifest = json.load(f)
    assert manifest['num_labeled'] == num_labeled
    assert manifest['num_unlabeled'] == num_unlabeled
    with open(osp.join(out, name, 'labeled.txt'), 'rb') as f:
        assert manifest['labeled_sha1'] == hashlib.sha1(f.read()).hexdigest()
    return labeled, manifest


@pytest.fixture(scope='module')
def voc_lists(tmp_path_factory):
    """Fake VOC lists of the real sizes: 1464 fine images inside 10582."""
    root = tmp_path_factory.mktemp('voc')
    fine = _names('fine_', 1464)
    aug = sorted(fine + _names('sbd_', 10582 - 1464))
    write_split_file(root / 'train.txt', fine)
    write_split_file(root / 'trainaug.txt', aug)
    return root, fine, aug


def test_voc_classic(voc_lists, tmp_path):
    root, fine, aug = voc_lists
    out = str(tmp_path / 'pascal')
    split_dataset.main([
        '--preset', 'voc-classic', '--fine-list',
        str(root / 'train.txt'), '--aug-list',
        str(root / 'trainaug.txt'), '--out', out
    ])
    expected = {92: 10490, 183: 10399, 366: 10216, 732: 9850, 1464: 9118}
    previous = set()
    for num, num_unlabeled in expected.items():
        labeled, manifest = _check_split(out, str(num), num, num_unlabeled,
                                         aug)
        assert set(labeled) <= set(fine)
        assert previous <= set(labeled)  # nested for one seed
        previous = set(labeled)
        assert manifest['seed'] == 0
        assert manifest['preset'] == 'voc-classic'


def test_voc_blended_deterministic(voc_lists, tmp_path):
    root, _, aug = voc_lists
    outs = []
    for run, seed in enumerate([1, 1, 2]):
        out = str(tmp_path / f'run{run}')
        split_dataset.main([
            '--preset', 'voc-blended', '--aug-list',
            str(root / 'trainaug.txt'), '--out', out, '--seed',
            str(seed)
        ])
        for name, num in (('1_16', 662), ('1_8', 1323), ('1_4', 2646)):
            _check_split(out, name, num, 10582 - num, aug)
        outs.append(read_names(osp.join(out, '1_16', 'labeled.txt')))
    assert outs[0] == outs[1]
    assert outs[0] != outs[2]


def test_cityscapes(tmp_path):
    train = [f'city{i % 18}/city{i % 18}_{i:06d}_000019' for i in range(2975)]
    write_split_file(tmp_path / 'train.txt', train)
    out = str(tmp_path / 'cityscapes')
    split_dataset.main([
        '--preset', 'cityscapes', '--train-list',
        str(tmp_path / 'train.txt'), '--out', out
    ])
    for name, num in (('1_16', 186), ('1_8', 372), ('1_4', 744), ('1_2',
                                                                  1488)):
        labeled, _ = _check_split(out, name, num, 2975 - num, train)
        # input order is kept
        assert labeled == [n for n in train if n in set(labeled)]


def test_custom(tmp_path):
    names = _names('x', 50)
    write_split_file(tmp_path / 'all.txt', names)
    out = str(tmp_path / 'custom')
    split_dataset.main([
        '--preset', 'custom', '--list',
        str(tmp_path / 'all.txt'), '--fraction', '0.1', '--out', out
    ])
    _check_split(out, '1_10', 5, 45, names)
    split_dataset.main([
        '--preset', 'custom', '--list',
        str(tmp_path / 'all.txt'), '--num-labeled', '7', '--name', 'seven',
        '--out', out
    ])
    _check_split(out, 'seven', 7, 43, names)


def test_custom_accepts_unimatch_format(tmp_path):
    (tmp_path / 'all.txt').write_text(''.join(
        f'JPEGImages/{n}.jpg SegmentationClass/{n}.png\n'
        for n in _names('v', 32)))
    out = str(tmp_path / 'o')
    split_dataset.main([
        '--preset', 'custom', '--list',
        str(tmp_path / 'all.txt'), '--fraction', '1/16', '--out', out
    ])
    _check_split(out, '1_16', 2, 30, _names('v', 32))


def test_split_tool_errors(tmp_path):
    write_split_file(tmp_path / 'fine.txt', ['a', 'z'])
    write_split_file(tmp_path / 'aug.txt', ['a', 'b', 'c'])
    with pytest.raises(SystemExit, match='--aug-list'):
        split_dataset.main([
            '--preset', 'voc-classic', '--fine-list',
            str(tmp_path / 'fine.txt'), '--out',
            str(tmp_path / 'o')
        ])
    with pytest.raises(ValueError, match='not in the aug list'):
        split_dataset.main([
            '--preset', 'voc-classic', '--fine-list',
            str(tmp_path / 'fine.txt'), '--aug-list',
            str(tmp_path / 'aug.txt'), '--out',
            str(tmp_path / 'o')
        ])
    # refuses to overwrite a split with different content
    args = [
        '--preset', 'custom', '--list',
        str(tmp_path / 'aug.txt'), '--num-labeled', '1', '--out',
        str(tmp_path / 'o')
    ]
    split_dataset.main(args + ['--seed', '0'])
    split_dataset.main(args + ['--seed', '0'])  # same content: fine
    labeled = read_names(tmp_path / 'o' / '1' / 'labeled.txt')
    other_seed = next(
        s for s in range(1, 20)
        if split_dataset.make_split(['a', 'b', 'c'], 1, s)[0] != labeled)
    with pytest.raises(FileExistsError, match='--overwrite'):
        split_dataset.main(args + ['--seed', str(other_seed)])
    split_dataset.main(args + ['--seed', str(other_seed), '--overwrite'])
    assert read_names(tmp_path / 'o' / '1' / 'labeled.txt') != labeled


def test_import_unimatch_dir(tmp_path):
    src = tmp_path / 'unimatch' / 'splits'
    (src / 'pascal' / '92').mkdir(parents=True)
    (src / 'cityscapes' / '1_16').mkdir(parents=True)
    (src / 'pascal' / '92' / 'labeled.txt').write_text(
        'JPEGImages/2007_000032.jpg SegmentationClass/2007_000032.png\n'
        'JPEGImages/2007_000039.jpg SegmentationClass/2007_000039.png')
    (src / 'pascal' / '92' / 'unlabeled.txt').write_text(
        'JPEGImages/2008_000002.jpg SegmentationClass/2008_000002.png\n')
    (src / 'pascal' / 'val.txt').write_text(
        'JPEGImages/2007_000033.jpg SegmentationClass/2007_000033.png\n')
    (src / 'cityscapes' / '1_16' / 'labeled.txt').write_text(
        'leftImg8bit/train/aachen/aachen_000000_000019_leftImg8bit.png '
        'gtFine/train/aachen/aachen_000000_000019_gtFine_labelTrainIds.png\n')
    out = tmp_path / 'out'
    converted = import_splits.main([str(src), str(out)])
    assert converted == {
        'cityscapes/1_16/labeled.txt': ['aachen/aachen_000000_000019'],
        'pascal/92/labeled.txt': ['2007_000032', '2007_000039'],
        'pascal/92/unlabeled.txt': ['2008_000002'],
        'pascal/val.txt': ['2007_000033'],
    }
    assert (out / 'pascal' / '92' / 'labeled.txt').read_text() == \
        '2007_000032\n2007_000039\n'
    manifest = json.loads(
        (out / 'pascal' / '92' / 'manifest.json').read_text())
    assert manifest['seed'] is None
    assert (manifest['num_labeled'], manifest['num_unlabeled']) == (2, 1)
    assert not (out / 'cityscapes' / '1_16' / 'manifest.json').exists()


def test_import_u2pl_files(tmp_path):
    (tmp_path / 'voc.txt').write_text('2007_000032\n2007_000039\n')
    (tmp_path / 'city.txt').write_text(
        'leftImg8bit/train/aachen/aachen_000000_000019_leftImg8bit.png\n'
        'leftImg8bit/train/zurich/zurich_000121_000019_leftImg8bit.png\n')
    import_splits.main([str(tmp_path / 'voc.txt'), str(tmp_path / 'a.txt')])
    assert (tmp_path / 'a.txt').read_text() == '2007_000032\n2007_000039\n'
    import_splits.main([
        str(tmp_path / 'city.txt'),
        str(tmp_path / 'b.txt'), '--img-prefix', 'leftImg8bit/train'
    ])
    assert (tmp_path / 'b.txt').read_text() == (
        'aachen/aachen_000000_000019\nzurich/zurich_000121_000019\n')


def test_import_errors(tmp_path):
    (tmp_path / 'bad.txt').write_text('a\nx.jpg y.png extra\n')
    with pytest.raises(ValueError, match=r'bad\.txt:2:'):
        import_splits.main([str(tmp_path / 'bad.txt'), str(tmp_path / 'o')])
    (tmp_path / 'empty_dir').mkdir()
    with pytest.raises(FileNotFoundError, match='no \\*.txt'):
        import_splits.main([str(tmp_path / 'empty_dir'), str(tmp_path / 'o2')])


def test_import_unimatch_v2_ade20k_and_coco_lists(tmp_path):
    """UniMatch V2's ADE20K lines and UniMatch's COCO lines become the
    names SemiADE20KDataset / SemiCOCODataset resolve under their
    data_prefix (images/training, train2017)."""
    ade = tmp_path / 'ade.txt'
    ade.write_text(
        'images/training/ADE_train_00001609.jpg '
        'annotations/training/ADE_train_00001609.png\n'
        'images/training/ADE_train_00006908.jpg '
        'annotations/training/ADE_train_00006908.png\n')
    coco = tmp_path / 'coco.txt'
    coco.write_text('train2017/000000283213.jpg masks/000000283213.png\n')
    import_splits.main([str(ade), str(tmp_path / 'ade_out.txt')])
    import_splits.main([str(coco), str(tmp_path / 'coco_out.txt')])
    assert (tmp_path / 'ade_out.txt').read_text().split() == [
        'ADE_train_00001609', 'ADE_train_00006908']
    assert (tmp_path / 'coco_out.txt').read_text().split() == [
        '000000283213']
