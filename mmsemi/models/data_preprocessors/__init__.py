from .multi_branch_data_preprocessor import MultiBranchSegDataPreprocessor

__all__ = ['MultiBranchSegDataPreprocessor']
