# Runtime shared by all mmsemi configs: mmseg's runtime plus the package
# import that registers mmsemi's components into mmseg's registries.
_base_ = ['mmseg::_base_/default_runtime.py']
custom_imports = dict(imports=['mmsemi'], allow_failed_imports=False)
