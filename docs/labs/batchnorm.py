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
# # BN 实验：有无 Batch Normalization，不同学习率
#
# 笔记里说 BN “可以加速网络的训练，并且能够提升准确率”（Ioffe & Szegedy 2015,
# [arXiv:1502.03167](https://arxiv.org/abs/1502.03167)）。论文的具体说法是：BN 让
# 网络能用**大得多的学习率**而不发散，对初始化也不那么敏感。这里直接验证：
#
# - 同一个 8 层 plain 卷积网络（ResNet 论文的 CIFAR 结构，`cifar_plain(8)`，
#   没有 shortcut），一个版本每个卷积后接 BN，另一个版本没有 BN（卷积带偏置）；
# - 学习率 0.01、0.1、0.5，**不用** warm-up，也不衰减，不加 weight decay，
#   只比较 BN 的作用；
# - 8×8 手写数字，batch 32，SGD + momentum 0.9，200 步，同一个种子。

# %%
import matplotlib.pyplot as plt
from IPython.display import Markdown

from dlnotes.labs import (
    digits_split,
    markdown_table,
    seed_everything,
    smooth,
    train_classifier,
)
from dlnotes.models.cifar import cifar_plain
from dlnotes.train import TrainConfig, evaluate

seed_everything(0)
data = digits_split(image_size=8)

LRS = (0.01, 0.1, 0.5)
runs = {}
for bn in (False, True):
    for lr in LRS:
        config = TrainConfig(batch_size=32, lr=lr, schedule="constant", weight_decay=0)
        seed_everything(0)
        net = cifar_plain(8, batch_norm=bn, num_classes=10, in_channels=1)
        hist = train_classifier(net, data.x_train, data.y_train, config, steps=200)
        test_err = 1 - evaluate(net, (data.x_test, data.y_test)).accuracy
        runs[bn, lr] = (hist, test_err)

# %% [markdown]
# ## 训练误差曲线
#
# 每一步 mini-batch 的训练误差（20 步滑动平均）。一条曲线提前结束、末端画 × 的，
# 表示损失变成了 NaN/inf——训练发散了。

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
colors = dict(zip(LRS, ("tab:blue", "tab:orange", "tab:red"), strict=True))
for ax, bn in zip(axes, (False, True), strict=True):
    for lr in LRS:
        hist = runs[bn, lr][0]
        err = 100 * smooth(hist.error, 20)
        ax.plot(range(1, len(err) + 1), err, color=colors[lr], label=f"lr={lr}")
        if hist.diverged and hist.loss:
            ax.plot(len(err), err[-1], "x", color=colors[lr], ms=10, mew=2)
    ax.set_title("with BatchNorm" if bn else "without BatchNorm")
    ax.set_xlabel("SGD step")
    ax.grid(alpha=0.3)
    ax.legend()
axes[0].set_ylabel("training error (%), moving average")
axes[0].set_ylim(0, 100)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 结果
#
# 每格是“训练误差 / 测试误差”：训练误差是最后 20 步 mini-batch 的平均，测试误差
# 在 450 张没参与训练的图片上计算（eval 模式，BN 用训练时累积的均值和方差）。

# %%
def result(hist, test_err):
    if hist.diverged:
        return f"diverged at step {len(hist.loss) + 1}"
    return f"{100 * hist.final_error():.1f}% / {100 * test_err:.1f}%"


rows = [
    (f"{lr:g}", result(*runs[False, lr]), result(*runs[True, lr])) for lr in LRS
]
header = ("lr", "without BN: train / test", "with BN: train / test")
Markdown(markdown_table(header, rows))

# %% [markdown]
# ## 结论
#
# - **没有 BN**：lr=0.01 太慢，200 步后还有明显的训练误差；lr=0.1 训练不稳定；
#   lr=0.5 直接发散。能用的学习率窗口很窄。
# - **有 BN**：三个学习率都能训练，损失下降得比没有 BN 的最好情况还快。BN 把每层
#   的输入重新标准化，某一层的权重变大不会一路放大到后面的层，所以能承受大的
#   学习率。
# - 这也是 ResNet 论文的 plain 网络都加了 BN 的原因：有了 BN，
#   [梯度消失/爆炸](../gradients/) 就不再是深网络训练不动的主要原因，剩下的是
#   [退化问题](../degradation/)。
