"""A minimal re-statement of the official DINOv2 ViT forward (the module
UniMatch V2 uses: layer scale, plain MLP, no register tokens, position
embedding resized by the scale factor ``(n + 0.1) / N``), in the official
parameter names, as the oracle for the DINOv2 wrapper and the converter."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class _Attention(nn.Module):

    def __init__(self, dim, num_heads):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        batch, tokens, dim = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.num_heads,
                                  dim // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * (dim // self.num_heads)**-0.5, qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1)).softmax(dim=-1)
        out = (attn @ v).transpose(1, 2).reshape(batch, tokens, dim)
        return self.proj(out)


class _LayerScale(nn.Module):

    def __init__(self, dim, init_values):
        super().__init__()
        self.gamma = nn.Parameter(init_values * torch.ones(dim))

    def forward(self, x):
        return x * self.gamma


class _Mlp(nn.Module):

    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class _Block(nn.Module):

    def __init__(self, dim, num_heads, hidden, init_values):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = _Attention(dim, num_heads)
        self.ls1 = _LayerScale(dim, init_values)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = _Mlp(dim, hidden)
        self.ls2 = _LayerScale(dim, init_values)

    def forward(self, x):
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class _PatchEmbed(nn.Module):

    def __init__(self, patch_size, dim):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, patch_size, patch_size)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class OfficialDinoViT(nn.Module):
    """DINOv2's ``DinoVisionTransformer`` reduced to what UniMatch V2 runs.

    ``get_intermediate_layers(x, n, norm=True)``: (B, 3, H, W) -> tuple of
    (B, H/p * W/p, C) patch tokens, ``norm`` applied to each.
    """

    def __init__(self, img_size=56, patch_size=14, dim=32, depth=4,
                 num_heads=2, mlp_ratio=2, init_values=1.0,
                 interpolate_offset=0.1):
        super().__init__()
        self.patch_size = patch_size
        self.interpolate_offset = interpolate_offset
        num_patches = (img_size // patch_size)**2
        self.patch_embed = _PatchEmbed(patch_size, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, dim))
        self.blocks = nn.ModuleList(
            _Block(dim, num_heads, dim * mlp_ratio, init_values)
            for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.mask_token = nn.Parameter(torch.zeros(1, dim))

    def interpolate_pos_encoding(self, x, w, h):
        npatch = x.shape[1] - 1
        num = self.pos_embed.shape[1] - 1
        if npatch == num and w == h:
            return self.pos_embed
        pos_embed = self.pos_embed.float()
        class_pos_embed = pos_embed[:, 0]
        patch_pos_embed = pos_embed[:, 1:]
        dim = x.shape[-1]
        w0 = w // self.patch_size + self.interpolate_offset
        h0 = h // self.patch_size + self.interpolate_offset
        sqrt_n = math.sqrt(num)
        patch_pos_embed = F.interpolate(
            patch_pos_embed.reshape(1, int(sqrt_n), int(sqrt_n),
                                    dim).permute(0, 3, 1, 2),
            scale_factor=(float(w0) / sqrt_n, float(h0) / sqrt_n),
            mode='bicubic',
            antialias=False)
        assert int(w0) == patch_pos_embed.shape[-2]
        assert int(h0) == patch_pos_embed.shape[-1]
        patch_pos_embed = patch_pos_embed.permute(0, 2, 3, 1).view(1, -1, dim)
        return torch.cat((class_pos_embed.unsqueeze(0), patch_pos_embed),
                         dim=1)

    def prepare_tokens(self, x):
        _, _, w, h = x.shape
        x = self.patch_embed(x)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        return x + self.interpolate_pos_encoding(x, w, h)

    def get_intermediate_layers(self, x, n, norm=True):
        x = self.prepare_tokens(x)
        output = []
        for i, blk in enumerate(self.blocks):
            x = blk(x)
            if i in n:
                output.append(x)
        if norm:
            output = [self.norm(out) for out in output]
        return tuple(out[:, 1:] for out in output)


def randomize_(module: nn.Module, seed: int = 0) -> nn.Module:
    """Fill every parameter with N(0, 0.2) draws (LayerNorm weights around 1,
    layer scales around 0.5), so that no term vanishes in a comparison."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in module.named_parameters():
            noise = torch.randn(param.shape, generator=generator) * 0.2
            if name.endswith(('norm1.weight', 'norm2.weight', 'norm.weight',
                              'ln1.weight', 'ln2.weight')):
                noise += 1.0
            elif name.endswith(('gamma', 'gamma1.weight', 'gamma2.weight')):
                noise += 0.5
            param.copy_(noise)
    return module


def tokens_to_maps(tokens, height, width, patch_size=14):
    """(B, h*w, C) patch tokens -> (B, C, h, w)."""
    batch, _, dim = tokens.shape
    return tokens.reshape(batch, height // patch_size, width // patch_size,
                          dim).permute(0, 3, 1, 2)
