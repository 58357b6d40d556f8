# The PyTorch modules of nabla's layers that torch.nn lacks, written by `nabla export --format
# torch` at the top of every generated file (src/io/torch/layers.py in nabla's source). Each keeps
# the parameter names and layouts of nabla's export, so that load_state_dict(strict=True) works.
import torch
from torch import nn
import torch.nn.functional as F


class ScaledTanh(nn.Module):
    """LeNet-5's squashing function 1.7159·tanh(2u/3)."""

    def forward(self, x):
        return 1.7159 * torch.tanh(x * (2.0 / 3.0))


class Scale(nn.Module):
    """Multiplies by a constant factor."""

    def __init__(self, factor):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return x * self.factor


class OneHot(nn.Module):
    """Symbol indices (N × T, as floats) to one-hot vectors (N × T × classes)."""

    def __init__(self, classes):
        super().__init__()
        self.classes = classes

    def forward(self, x):
        return F.one_hot(x.long(), self.classes).float()


class Subsample(nn.Module):
    """LeNet-5's trainable sub-sampling: weight[c]·(sum of each window of map c) + bias[c]."""

    def __init__(self, channels, kernel_size, stride):
        super().__init__()
        self.kernel_size, self.stride = tuple(kernel_size), tuple(stride)
        area = self.kernel_size[0] * self.kernel_size[1]
        self.weight = nn.Parameter(torch.full((channels,), 1.0 / area))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        ones = torch.ones(x.shape[1], 1, *self.kernel_size, dtype=x.dtype, device=x.device)
        sums = F.conv2d(x, ones, stride=self.stride, groups=x.shape[1])
        return sums * self.weight[:, None, None] + self.bias[:, None, None]


class MaskedConv2d(nn.Conv2d):
    """A convolution whose output map o reads only the input maps connections[o] (LeNet-5's C3,
    Table I of LeCun et al. 1998): the weights are multiplied by a fixed 0/1 mask (a buffer that
    is not saved) in every forward pass, so unconnected weights get no gradient."""

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, connections):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding)
        mask = torch.zeros_like(self.weight)
        for o, sources in enumerate(connections):
            mask[o, sources] = 1.0
        self.register_buffer("mask", mask, persistent=False)
        with torch.no_grad():
            self.weight.mul_(mask)

    def forward(self, x):
        return self._conv_forward(x, self.weight * self.mask, self.bias)


class Rbf(nn.Module):
    """Euclidean RBF units (LeNet-5's outputs): y_i = Σ_j (x_j − w_ij)², a penalty (small = good)."""

    def __init__(self, in_features, out_features):
        super().__init__()
        self.weight = nn.Parameter(torch.randint(0, 2, (out_features, in_features)).float() * 2 - 1)

    def forward(self, x):
        return ((x[:, None, :] - self.weight[None]) ** 2).sum(-1)


class Recurrent:
    """Batch first, zero initial state; returns every step's output (sequence=True) or the last
    layer's final state, both directions' concatenated when bidirectional (as nabla's recurrent
    layers do)."""

    def forward(self, x):
        out, h = super().forward(x)
        if self.sequence:
            return out
        h = h[0] if isinstance(h, tuple) else h  # the LSTM's (h_n, c_n)
        return torch.cat([h[-2], h[-1]], 1) if self.bidirectional else h[-1]


class RNN(Recurrent, nn.RNN):
    """nn.RNN (tanh) as nabla's rnn layer."""

    def __init__(self, input_size, hidden_size, sequence):
        super().__init__(input_size, hidden_size, batch_first=True)
        self.sequence = sequence


class LSTM(Recurrent, nn.LSTM):
    """nn.LSTM as nabla's lstm layer."""

    def __init__(self, input_size, hidden_size, sequence, num_layers=1, dropout=0.0, bidirectional=False):
        super().__init__(input_size, hidden_size, num_layers=num_layers, dropout=dropout,
                         bidirectional=bidirectional, batch_first=True)
        self.sequence = sequence


class GRU(Recurrent, nn.GRU):
    """nn.GRU as nabla's gru layer (the same equations)."""

    def __init__(self, input_size, hidden_size, sequence, num_layers=1, dropout=0.0, bidirectional=False):
        super().__init__(input_size, hidden_size, num_layers=num_layers, dropout=dropout,
                         bidirectional=bidirectional, batch_first=True)
        self.sequence = sequence


class WeightScalingDropout(nn.Module):
    """Dropout by the lecture's rule: kept units unscaled in training, outputs × (1 − p) at
    inference."""

    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):
        if self.training:
            return x * (torch.rand_like(x) >= self.p).to(x.dtype)
        return x * (1.0 - self.p)


class Inception(nn.Module):
    """GoogLeNet's Inception module: 1×1, 1×1 → 3×3, 1×1 → 5×5 and 3×3 max pool → 1×1 branches,
    a ReLU after every convolution, concatenated along the channels in that order."""

    def __init__(self, in_channels, c1x1, c3x3_reduce, c3x3, c5x5_reduce, c5x5, pool_proj):
        super().__init__()
        convs = [("1x1", in_channels, c1x1, 1), ("3x3_reduce", in_channels, c3x3_reduce, 1),
                 ("3x3", c3x3_reduce, c3x3, 3), ("5x5_reduce", in_channels, c5x5_reduce, 1),
                 ("5x5", c5x5_reduce, c5x5, 5), ("pool_proj", in_channels, pool_proj, 1)]
        for name, c, o, k in convs:
            self.add_module(name, nn.Conv2d(c, o, k, padding=k // 2))

    def forward(self, x):
        conv = lambda name, v: F.relu(self._modules[name](v))
        return torch.cat([
            conv("1x1", x),
            conv("3x3", conv("3x3_reduce", x)),
            conv("5x5", conv("5x5_reduce", x)),
            conv("pool_proj", F.max_pool2d(x, 3, 1, 1)),
        ], 1)


class Auxiliary(nn.Sequential):
    """An auxiliary classifier head (GoogLeNet): the identity on the main path. In training mode
    its head's output is kept in `self.output`, for a training loop to add loss_weight × its loss."""

    def __init__(self, loss_weight, *layers):
        super().__init__(*layers)
        self.loss_weight = loss_weight
        self.output = None

    def forward(self, x):
        self.output = super().forward(x) if self.training else None
        return x


class NablaNet(nn.Sequential):
    """A nabla model. forward takes raw inputs, N rows of one sample's values each (or N × the
    input shape): image pixels divided by 255, or a table's columns as they are. They are
    normalised, (x − input_mean)/input_std, reshaped to N × input_shape and run through the
    layers; the outputs are the last layer's raw values (logits for the cross-entropy losses)."""

    def __init__(self, layers, input_shape, normalised):
        super().__init__(*layers)
        self.input_shape = tuple(input_shape)
        self.register_buffer("input_mean", torch.zeros(normalised))
        self.register_buffer("input_std", torch.ones(normalised))

    def forward(self, x):
        x = (x.reshape(x.shape[0], -1) - self.input_mean) / self.input_std
        return super().forward(x.reshape(x.shape[0], *self.input_shape))
