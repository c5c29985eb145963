import pytest
import torch

from mgn.vision.models import CNN, MLP


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_models_are_built_from_the_image_shape(shape):
    x = torch.randn(5, *shape)
    mlp, cnn = MLP(shape, hidden=64), CNN(shape)
    assert mlp(x).shape == (5, 10) and cnn(x).shape == (5, 10)
    assert mlp.hidden.in_features == shape[0] * shape[1] * shape[2]
    assert cnn.classifier[1].in_features == 64 * (shape[1] // 4) * (shape[2] // 4)
    assert MLP(shape).hidden.out_features == 4096


def test_cnn_has_the_papers_layers():
    cnn = CNN((3, 32, 32))
    convs = [m.out_channels for m in cnn.modules() if isinstance(m, torch.nn.Conv2d)]
    drops = [m.p for m in cnn.modules() if isinstance(m, torch.nn.Dropout)]
    norms = [m for m in cnn.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert convs == [32, 32, 64, 64] and drops == [0.2, 0.3, 0.5] and len(norms) == 4


def test_relu_mlp_and_errors():
    mlp = MLP((1, 4, 4), hidden=8, activation="relu", dropout=0.0).eval()
    x = torch.randn(3, 1, 4, 4)
    expected = mlp.out(torch.relu(mlp.hidden(x.flatten(1))))
    torch.testing.assert_close(mlp(x), expected)
    with pytest.raises(ValueError, match="activation"):
        MLP((1, 4, 4), activation="tanh")
    with pytest.raises(ValueError, match="image_shape"):
        MLP((28, 28))
    with pytest.raises(ValueError, match="image_shape"):
        CNN((1, 2, 2))
