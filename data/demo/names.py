"""Chinese names for the synthetic town: villages, streets, people and fictional phone numbers."""

from __future__ import annotations

import numpy as np

#: (name, kind) of the villages; the first is the town-seat village. Kinds: "village" 行政村, "gacha" 嘎查.
VILLAGE_NAMES: tuple[tuple[str, str], ...] = (
    ("义隆永村", "village"),
    ("西营子村", "village"),
    ("前进嘎查", "gacha"),
    ("东营子村", "village"),
    ("哈日干图嘎查", "gacha"),
    ("三合村", "village"),
    ("太平庄村", "village"),
    ("宝力格嘎查", "gacha"),
    ("兴隆洼村", "village"),
    ("八家子村", "village"),
    ("新发村", "village"),
    ("巴彦塔拉嘎查", "gacha"),
    ("南湾子村", "village"),
    ("北沙窝村", "village"),
    ("大榆树村", "village"),
    ("乌兰敖都嘎查", "gacha"),
    ("小河沿村", "village"),
    ("胜利村", "village"),
    ("白音昌嘎查", "gacha"),
    ("五十家子村", "village"),
    ("双合兴村", "village"),
    ("伊和乌苏嘎查", "gacha"),
    ("平安地村", "village"),
    ("红光村", "village"),
    ("希勃图嘎查", "gacha"),
    ("永丰村", "village"),
    ("他拉干嘎查", "gacha"),
    ("四家子村", "village"),
)

#: Streets of the town seat: those parallel to G111 (south to north, G111 itself in the middle) and across it.
STREETS_ALONG = ("南环街", "迎宾街", "兴业街", "幸福街", None, "团结街", "文化街", "建设街", "北环街")
STREETS_ACROSS = ("西环路", "育才路", "振兴路", "政府路", "中心路", "商贸路", "民族路", "粮站路", "东环路")

_SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐韩冯于董萧程曹袁邓许傅沈曾彭吕"
    "苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史"
    "顾侯邵孟龙万段"
)
_GIVEN = "建国志强海军玉兰秀英桂芳明辉俊峰永刚春梅凤霞宝山金柱振华立新德福占军树林国庆丽娟红艳文斌长青"
_MONGOL_GIVEN = (
    "巴特尔",
    "额尔敦",
    "朝鲁",
    "苏和",
    "乌力吉",
    "其其格",
    "萨仁",
    "图雅",
    "宝音",
    "那顺",
    "阿拉坦",
    "斯琴",
)


def person(rng: np.random.Generator) -> str:
    """A synthetic personal name; about one in five is Mongolian, as in a mixed rural banner."""
    if rng.random() < 0.2:
        return str(rng.choice(_MONGOL_GIVEN))
    surname = _SURNAMES[int(rng.integers(len(_SURNAMES)))]
    length = 1 if rng.random() < 0.3 else 2
    given = "".join(_GIVEN[int(rng.integers(len(_GIVEN)))] for _ in range(length))
    return surname + given


def phone(serial: int) -> str:
    """A clearly fictional landline: Chinese local numbers never start with 0, so 0475-0xxxxxx cannot be real."""
    return f"0475-0{serial % 1_000_000:06d}"
