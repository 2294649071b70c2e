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
# # 退化问题：plain 网络与残差网络
#
# ResNet 论文（He et al. 2015, [arXiv:1512.03385](https://arxiv.org/abs/1512.03385)）
# 的图 1 和图 6 是它的出发点：把 plain 网络从 20 层加深到 56 层，**训练误差**反而更高。
# 这不是过拟合（过拟合时训练误差低、测试误差高，这里连训练误差都变高了），也不是梯度
# 消失（网络里有 BN，见[梯度实验](../gradients/)），而是更深的网络更难被 SGD 优化——
# 论文称之为 **退化（degradation）**。
#
# 论文的论证：深网络至少可以“复制”浅网络——多出来的层都学成恒等映射
# $x \mapsto x$。既然 SGD 找不到这样的解，就在结构里**显式地**放一条恒等映射
# （shortcut），让每组层只学残差 $\mathcal{F}(x) = \mathcal{H}(x) - x$，输出
#
# $$y = \mathcal{F}(x, \{W_i\}) + x;$$
#
# 要逼近恒等映射，只需把 $\mathcal{F}$ 推向 0。
#
# 这个实验是图 6 的缩小版：同样的 6n+2 层 CIFAR 网络（`dlnotes.models.cifar`，
# 三个阶段 16/32/64 个卷积核，都带 BN），一组没有 shortcut（plain），一组用
# 选项 A 的 shortcut（零填充的恒等映射，不增加参数），深度 8、20、32 层，在
# scikit-learn 自带的 8×8 手写数字（1,347 张训练图）上用完全相同的设置训练。

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
from dlnotes.models.cifar import cifar_plain, cifar_resnet
from dlnotes.train import TrainConfig, evaluate

seed_everything(0)
data = digits_split(image_size=8)  # (N, 1, 8, 8), standardised
print("train", tuple(data.x_train.shape), "test", tuple(data.x_test.shape))

# %% [markdown]
# ## 训练
#
# 每个网络都从同一个随机种子初始化，按同样的顺序看到同样的 mini-batch：SGD
# （momentum 0.9，weight decay 10⁻⁴，与论文相同），batch 32，共 200 步，
# 学习率 0.1，前 20 步线性 warm-up，之后余弦衰减到 0。唯一的区别是深度和有没有
# shortcut。

# %%
DEPTHS = (8, 20, 32)
config = TrainConfig(batch_size=32, lr=0.1, warmup_steps=20, schedule="cosine")
builders = {"plain": cifar_plain, "ResNet": cifar_resnet}

runs = {}
for kind, build in builders.items():
    for depth in DEPTHS:
        seed_everything(0)
        net = build(depth, num_classes=10, in_channels=1)
        hist = train_classifier(net, data.x_train, data.y_train, config, steps=200)
        train_err = 1 - evaluate(net, (data.x_train, data.y_train)).accuracy
        test_err = 1 - evaluate(net, (data.x_test, data.y_test)).accuracy
        runs[kind, depth] = (hist, train_err, test_err)

# %% [markdown]
# ## 训练误差曲线
#
# 曲线是每一步 mini-batch 的训练误差（20 步滑动平均），左边 plain，右边 ResNet，
# 和论文图 6 的左图、中图对应。

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
colors = dict(zip(DEPTHS, ("tab:orange", "tab:blue", "tab:red"), strict=True))
for ax, kind in zip(axes, builders, strict=True):
    for depth in DEPTHS:
        hist = runs[kind, depth][0]
        steps = range(1, len(hist.error) + 1)
        err = 100 * smooth(hist.error, 20)
        ax.plot(steps, err, color=colors[depth], label=f"{kind}-{depth}")
    ax.set_title(f"{kind} networks")
    ax.set_xlabel("SGD step")
    ax.grid(alpha=0.3)
    ax.legend()
axes[0].set_ylabel("training error (%), moving average")
axes[0].set_ylim(0, 100)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 训练结束时的误差
#
# 训练结束后在**整个训练集**和测试集上（eval 模式，BN 用滑动统计量）重新计算的
# 误差。参数量两组完全相同（选项 A 的 shortcut 没有参数）。

# %%
def percent(value):
    return f"{100 * value:.1f}%"


rows = [
    (f"{kind}, {split}", *(percent(runs[kind, d][col]) for d in DEPTHS))
    for col, split in ((1, "train"), (2, "test"))
    for kind in builders
]
Markdown(markdown_table(("error", *(f"depth {d}" for d in DEPTHS)), rows))

# %% [markdown]
# ## 结论
#
# - **plain 网络越深，训练误差越高**：同样 200 步，8 层几乎把训练集学完，20 层
#   慢一些，32 层的训练误差高出一个数量级以上。测试误差跟着训练误差走——这正是
#   退化而不是过拟合。
# - **ResNet 没有退化**：加深到 32 层，训练误差仍然和浅网络一样低；同样深度下，
#   只多了一条恒等 shortcut，差别就这么大。
# - 数字与论文不同（数据小、训练短、深度只到 32），趋势相同：论文里 plain-56
#   比 plain-20 差，ResNet-56/110 比 ResNet-20 好。
#
# 自己动手：把 `DEPTHS` 改成 `(8, 20, 44)`，plain-44 的训练误差会更高（运行时间
# 约多一倍）；把 `steps` 加大，深的 ResNet 会超过浅的。
