import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Small batches run far faster on one thread than on two contending ones."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
