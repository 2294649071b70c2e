# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 梯度消失与梯度爆炸
#
# 反向传播把输出端的梯度一层层乘回去。对第 l 层的输出 h<sub>l</sub>：
#
# <p style="text-align: center">
# ∂L/∂h<sub>l</sub> = ∂L/∂h<sub>L</sub> · ∏<sub>k=l+1…L</sub> ∂h<sub>k</sub>/∂h<sub>k−1</sub>
# </p>
#
# 每一层的雅可比矩阵如果平均把梯度缩小一点（因子 < 1），几十层乘下来就是
# 指数级的**梯度消失**；放大一点（因子 > 1）就是**梯度爆炸**。笔记里列的对策
# ——数据标准化、权重初始化、BN——都是在让这个因子保持在 1 附近。
#
# 这里只做一次前向和一次反向：在**初始化时**（还没训练）取 256 张手写数字，算出
# 每一层权重梯度的范数 ‖∂L/∂W<sub>l</sub>‖，从输入层画到
# 输出层，纵轴取对数。计算由 `dlnotes.labs.gradient_norms` 完成。

# %%
import math

import matplotlib.pyplot as plt
from IPython.display import Markdown

from dlnotes.labs import (
    deep_mlp,
    digits_split,
    gradient_norms,
    markdown_table,
    seed_everything,
)
from dlnotes.models.cifar import cifar_plain, cifar_resnet

seed_everything(0)
data = digits_split(image_size=8)
x, y = data.x_train[:256], data.y_train[:256]  # (256, 1, 8, 8), (256,)

# %% [markdown]
# ## 实验一：30 层全连接网络，激活函数与初始化
#
# 网络是 30 个全连接层（宽 128），权重从 N(0, g²/n<sub>in</sub>) 初始化（n<sub>in</sub> 是输入维数）：
#
# - **sigmoid, g=1**：sigmoid 的导数最大只有 1/4，每层都把梯度压小——经典的梯度消失；
# - **ReLU, g=1**：ReLU 把一半的信号置零，方差每层减半，信号和梯度整体很小；
# - **ReLU, g=2**：初始化过大，方差每层翻倍——梯度爆炸；
# - **ReLU, He (g=√2)**：He 初始化（[arXiv:1502.01852](https://arxiv.org/abs/1502.01852)）
#   正好抵消 ReLU 的减半，梯度在各层大小相近；
# - **ReLU, g=2 + BN**：初始化同样过大，但每层后面有 BatchNorm，把信号重新标准化。

# %%
mlp_variants = {
    "sigmoid, g=1": dict(activation="sigmoid", gain=1.0),
    "ReLU, g=1": dict(activation="relu", gain=1.0),
    "ReLU, g=2": dict(activation="relu", gain=2.0),
    "ReLU, He (g=sqrt 2)": dict(activation="relu", gain=math.sqrt(2)),
    "ReLU, g=2 + BN": dict(activation="relu", gain=2.0, batch_norm=True),
}
mlp_norms = {}
for name, kwargs in mlp_variants.items():
    seed_everything(0)
    net = deep_mlp(30, 128, in_features=64, num_classes=10, **kwargs)
    mlp_norms[name] = list(gradient_norms(net, x, y).values())

fig, ax = plt.subplots(figsize=(8, 4))
for name, norms in mlp_norms.items():
    ax.semilogy(range(1, len(norms) + 1), norms, marker=".", label=name)
ax.set_xlabel("layer (1 = next to the input)")
ax.set_ylabel("||dL/dW|| at initialisation")
ax.set_title("30-layer MLP on digits: gradient norm per layer")
ax.grid(alpha=0.3, which="both")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %%
def summary(norms):
    """First, middle and last layer of each network, as a Markdown table."""
    rows = []
    for name, v in norms.items():
        rows.append((name, *(f"{v[i]:.1e}" for i in (0, len(v) // 2, -1))))
    header = ("network", "first", "middle", "last")
    return Markdown(markdown_table(header, rows))


summary(mlp_norms)

# %% [markdown]
# sigmoid 网络第 1 层的梯度比第 30 层小十几个数量级：前面的层几乎学不动。
# ReLU 网络的曲线大致是平的（前向的信号和反向的梯度按同一个因子缩放，在权重梯度
# 里正好抵消），但整体高度由初始化决定——g=1 时梯度极小，g=2 时极大，同一个学习率
# 对它们不可能都合适；He 初始化把它放在 1 附近。加了 BN 之后，即使初始化过大，
# 梯度也回到了合理的范围，这就是 BN “降低对初始化的敏感度”的含义；不过 BN 网络
# 的梯度从输出到输入仍有增长，实验二里会看得更清楚。
#
# ## 实验二：56 层 CIFAR 网络，plain、BN 与残差
#
# 换成 ResNet 论文 §4.2 的 56 层网络（`dlnotes.models.cifar`，He 初始化）。输入是
# 放大到 16×16 的数字。四个版本：有无 BN × 有无 shortcut。

# %%
data16 = digits_split(image_size=16)
x16, y16 = data16.x_train[:64], data16.y_train[:64]  # (64, 1, 16, 16)
cifar_variants = {
    "plain, no BN": (cifar_plain, False),
    "plain + BN": (cifar_plain, True),
    "ResNet, no BN": (cifar_resnet, False),
    "ResNet + BN": (cifar_resnet, True),
}
cifar_norms = {}
for name, (build, bn) in cifar_variants.items():
    seed_everything(0)
    net = build(56, batch_norm=bn, num_classes=10, in_channels=1)
    cifar_norms[name] = list(gradient_norms(net, x16, y16).values())

fig, ax = plt.subplots(figsize=(8, 4))
for name, norms in cifar_norms.items():
    ax.semilogy(range(1, len(norms) + 1), norms, marker=".", label=name)
ax.set_xlabel("layer (55 convolutions, then the fc layer)")
ax.set_ylabel("||dL/dW|| at initialisation")
ax.set_title("56-layer CIFAR networks on digits: gradient norm per layer")
ax.grid(alpha=0.3, which="both")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %%
summary(cifar_norms)

# %% [markdown]
# - **plain, no BN**：He 初始化只在“无限大的特征图”上精确；在 8×8、4×4 的小特征图
#   上，3×3 卷积有一部分落在零填充上，每层都把信号缩小一点，56 层后梯度只剩
#   10⁻⁴ 量级。
# - **ResNet, no BN**：每个残差单元输出 x + F(x)，方差逐单元累加，梯度整体
#   偏大，并且越靠近输出越大。
# - **plain + BN**：梯度没有消失，反而从输出到输入增长了几个数量级——深的 BN
#   网络在初始化时的梯度爆炸（Yang et al. 2019,
#   [arXiv:1902.08129](https://arxiv.org/abs/1902.08129)）。
# - **ResNet + BN**（论文的网络）：除了第一层和最后的全连接层，各层梯度几乎一样大。
#
# 论文 §4.1 说 plain 网络有 BN，前向信号方差不为零、反向梯度范数正常，所以它们的
# 退化“不太可能是梯度消失引起的”。上面的 plain + BN 确实没有梯度消失——但它在
# [退化实验](../degradation/)里照样训练得更差：梯度的大小正常，不代表网络好优化。
# 恒等 shortcut 让梯度可以不经过任何权重层直接传回前面的层，
# ∂(x + F(x))/∂x = I + ∂F/∂x，这是 ResNet
# 好训练的另一种解释。
