"""Small fully connected networks used inside coupling blocks and as conditioning nets."""

from __future__ import annotations

from torch import nn

__all__ = ["mlp"]


def mlp(
    n_in: int, n_out: int, hidden: int, n_hidden_layers: int = 2, zero_last: bool = False, dropout: float = 0.0
) -> nn.Sequential:
    """A ReLU MLP ``n_in -> hidden x n_hidden_layers -> n_out``.

    ``zero_last`` initialises the output layer to zero, so a coupling block starts as the
    identity map (stable training of deep stacks, as in GLOW and the cINN paper).
    """
    if n_hidden_layers < 1:
        raise ValueError(f"n_hidden_layers must be >= 1, got {n_hidden_layers}")
    layers: list[nn.Module] = []
    width = n_in
    for _ in range(n_hidden_layers):
        layers += [nn.Linear(width, hidden), nn.ReLU(inplace=True)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = hidden
    last = nn.Linear(width, n_out)
    if zero_last:
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
    layers.append(last)
    return nn.Sequential(*layers)
