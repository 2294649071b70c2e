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
# # 迁移学习实验：从头训练、特征提取与微调
#
# 迁移学习的设定：源任务有很多标注数据，目标任务只有很少。这里用手写数字模拟：
#
# - **源任务**：数字 0–4，全部训练图片（约 680 张，每张放两次）；
# - **目标任务**：数字 5–9，**每类只有 5、10 或 20 张**带标签的图片，测试集 225 张。
#
# 为了让任务不至于太简单，每个 8×8 的数字被贴到 16×16 画布的随机位置上：网络必须
# 学会“数字在哪里都认得”，从几十张图里学这个很难；源任务上预训练过的卷积层
# 可能已经学会了一部分——这正是实验要检验的。
#
# 比较 CS231n [迁移学习笔记](https://cs231n.github.io/transfer-learning/)里的三种
# 做法（代码在 `dlnotes.transfer`）：
#
# 1. **从头训练**（scratch）：随机初始化，只用目标任务的那几十张图；
# 2. **固定特征提取器**（feature extractor）：冻结预训练网络（`freeze`），只训练一个
#    新的分类层（`replace_head` / `extract_features`）；
# 3. **微调**（fine-tuning）：换上新分类层后训练整个网络，预训练部分用更小的学习率
#    （`param_groups`）。

# %%
import copy

import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown
from torch import nn

from dlnotes.labs import (
    digits_split,
    few_shot,
    markdown_table,
    place_at_random,
    seed_everything,
    train_classifier,
)
from dlnotes.models import create_model
from dlnotes.train import TrainConfig, evaluate
from dlnotes.transfer import (
    count_parameters,
    extract_features,
    freeze,
    param_groups,
    replace_head,
)

seed_everything(0)
CANVAS = 16
source = digits_split(8, classes=range(5))  # digits 0-4 -> labels 0-4
# The target data get the source's preprocessing (its mean and std).
target = digits_split(8, classes=range(5, 10), mean=source.mean, std=source.std)


def on_canvas(data, x, seed):
    """(N, 1, 8, 8) -> (N, 1, 16, 16), each digit at a random position."""
    return place_at_random(x, CANVAS, fill=data.background, seed=seed)


x_src = torch.cat([on_canvas(source, source.x_train, s) for s in (0, 1)])
y_src = torch.cat([source.y_train, source.y_train])
x_src_test = on_canvas(source, source.x_test, 2)
x_tgt_all = on_canvas(target, target.x_train, 3)  # labels taken by few_shot()
x_tgt_test, y_tgt_test = on_canvas(target, target.x_test, 4), target.y_test
print("source train:", tuple(x_src.shape))
print("target test:", tuple(x_tgt_test.shape))

fig, axes = plt.subplots(1, 10, figsize=(10, 1.3))
x_show, y_show = few_shot(x_tgt_all, target.y_train, 2)
for ax, img, label in zip(axes, x_show, y_show, strict=True):
    ax.imshow(img[0].numpy(), cmap="gray_r")
    ax.set_title(f"digit {target.classes[label]}", fontsize=8)
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 预训练
#
# 网络是 CS231n 的经典结构 `INPUT → [CONV → RELU → POOL]*2 → FC → RELU → FC`
# （`create_model("cnn", ...)`，32 和 64 个 3×3 卷积核，隐藏层 128 个神经元），
# 在源任务上训练 300 步。

# %%
def build_cnn():
    return create_model(
        "cnn",
        channels=(32, 64),
        hidden_features=(128,),
        convs_per_block=1,
        num_classes=5,
        in_channels=1,
        input_size=CANVAS,
    )


seed_everything(0)
pretrained = build_cnn()
pre_config = TrainConfig(batch_size=32, lr=0.05, warmup_steps=20, schedule="cosine")
train_classifier(pretrained, x_src, y_src, pre_config, steps=300)
src_acc = evaluate(pretrained, (x_src_test, source.y_test)).accuracy
print(f"source task (digits 0-4) test accuracy: {100 * src_acc:.1f}%")

# %% [markdown]
# ## 三种做法
#
# `compare(k)` 从目标任务里每类取 `k` 张带标签的图，把三种做法各跑一遍：都训练
# 150 步（batch 32，学习率 0.05，weight decay 5×10⁻⁴），每 10 步在目标
# 测试集上测一次误差。特征提取器做两次：一次用最后一个隐藏层（128 维）的输出，
# 一次用卷积层的输出（64 个特征图做全局平均池化）。

# %%
config = TrainConfig(batch_size=32, lr=0.05, weight_decay=5e-4, schedule="cosine")
STEPS = dict(steps=150, eval_every=10)


def compare(per_class):
    """Train the four variants on `per_class` target labels per class."""
    x, y = few_shot(x_tgt_all, target.y_train, per_class)
    test = dict(x_eval=x_tgt_test, y_eval=y_tgt_test, **STEPS)
    runs = {}

    # 1. From scratch: a new, randomly initialised network.
    seed_everything(1)
    scratch = build_cnn()
    hist = train_classifier(scratch, x, y, config, **test)
    runs["from scratch"] = scratch, hist

    # 2a. Fixed feature extractor: freeze everything, train a new head on top.
    seed_everything(1)
    frozen = freeze(copy.deepcopy(pretrained))
    replace_head(frozen, 5)  # a new, trainable nn.Linear(128, 5)
    hist = train_classifier(frozen, x, y, config, **test)
    runs["features: hidden FC"] = frozen, hist

    # 2b. Features of the conv layers (64 channels, global average pooling).
    feats = extract_features(pretrained, x)  # (5 * per_class, 64)
    feats_test = extract_features(pretrained, x_tgt_test)  # (225, 64)
    seed_everything(1)
    head = nn.Linear(feats.shape[1], 5)
    hist = train_classifier(
        head, feats, y, config, x_eval=feats_test, y_eval=y_tgt_test, **STEPS
    )
    runs["features: conv layers"] = head, hist

    # 3. Fine-tuning: new head at lr, the pretrained layers at 0.3 * lr.
    seed_everything(1)
    tuned = copy.deepcopy(pretrained)
    replace_head(tuned, 5)
    groups = param_groups(tuned, lr=config.lr, backbone_lr_mult=0.3)
    hist = train_classifier(tuned, x, y, config, params=groups, **test)
    runs["fine-tuning"] = tuned, hist
    return runs


LABELS_PER_CLASS = (5, 10, 20)
results = {k: compare(k) for k in LABELS_PER_CLASS}

# %%
fig, axes = plt.subplots(1, 3, figsize=(12, 3.8), sharey=True)
for ax, k in zip(axes, LABELS_PER_CLASS, strict=True):
    for name, (_, hist) in results[k].items():
        acc = [100 * (1 - e) for e in hist.eval_error]
        ax.plot(hist.eval_step, acc, marker=".", label=name)
    ax.set_title(f"{k} labels per class ({5 * k} images)")
    ax.set_xlabel("SGD step on the target task")
    ax.grid(alpha=0.3)
axes[0].set_ylabel("target test accuracy (%)")
axes[0].legend(fontsize=8)
fig.tight_layout()
plt.show()

# %%
rows = []
for name, (model, _) in results[LABELS_PER_CLASS[0]].items():
    trained = count_parameters(model, trainable=True)
    accuracy = [1 - results[k][name][1].eval_error[-1] for k in results]
    cells = [f"{100 * a:.1f}%" for a in accuracy]
    rows.append((f"{name} ({trained:,})", *cells))
header = ("method (trained params)", *(f"{k}/class" for k in LABELS_PER_CLASS))
Markdown(markdown_table(header, rows))

# %% [markdown]
# ## 这个实验能说明什么
#
# 先看清它有多大的把握：测试集只有 225 张图，每种做法只跑了一次（一个随机种子）。
# 准确率在 60% 附近时，225 张图的二项分布标准误约为 3 个百分点，所以**相差不到
# 6 个百分点左右（两倍标准误）的两种做法，这里分不出高下**。下面把每一列的最好
# 成绩、它的标准误和从头训练的成绩并排打出来：

# %%
n_test = len(y_tgt_test)
for k in LABELS_PER_CLASS:
    acc = {name: 1 - hist.eval_error[-1] for name, (_, hist) in results[k].items()}
    best = max(acc, key=acc.get)
    se = (acc[best] * (1 - acc[best]) / n_test) ** 0.5
    print(
        f"{k:2d}/class: best = {best:<22} {100 * acc[best]:5.1f}% "
        f"± {100 * se:.1f} (1 s.e.)   from scratch {100 * acc['from scratch']:5.1f}%"
    )

# %% [markdown]
# 在这个把握之内，实验支持的结论只有两条，都比误差大得多：
#
# - **标签极少时，用上预训练的网络明显更好**：每类 5 张图时，从头训练只比瞎猜
#   （5 类，20%）好一些，三种用到预训练网络的做法都高出它十几个百分点以上。
# - **标签多一些时，微调最好**：每类 20 张图时，微调领先其它做法约 10 个百分点；
#   固定特征提取器从每类 10 张到 20 张只涨了几个百分点（在误差范围内），从头训练
#   追了上来——固定的特征是为区分 0–4 学的，新标签再多也改不了它。
#
# 它**不能**说明的：取隐藏层还是卷积层的特征哪个好（两者的差在误差之内）；也不能
# 说明迁移学习能让小数据集达到高准确率——最好的成绩也只认对了约三分之二的测试图，
# 100 张带标签的图加上一个只在 680 张图上训练了 300 步的源网络，本来就做不到。
# 想得到更可靠的比较，要换几个随机种子重复、报告均值和标准差，测试集也要更大。
#
# 什么时候选哪种，取决于目标数据集的大小和它与源数据的相似程度（CS231n 的四种
# 情况）。另一个要点（也是笔记里的提醒）：复用别人的预训练模型时，必须用**它训练时
# 的预处理**。上面的目标数据就是用源任务训练集的均值和标准差标准化的
# （`digits_split(..., mean=source.mean, std=source.std)`）；换成 ImageNet 权重时，
# 就要用 ImageNet 的均值和方差（`dlnotes.transfer.Preprocessing` 把它们存进检查点）。
