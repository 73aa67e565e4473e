"""A generated Chinese customer file with known duplicates: the ground truth of de-duplication tests.

>>> data = generate_customers(1000, seed=7)
>>> len(data.rows), len(data.true_pairs()) > 0
(1000, True)

Duplicates are made the way they arise between a CRM and an ERP: the legal-form suffix spelled
differently (有限公司 / 有限责任公司 / (集团)), full-width characters, phone formats (+86, 0086,
spaces, dashes), a typo in the name or the address, a missing phone or address, 上海 for 上海市.
Hard negatives are included too: sibling companies (same brand, other industry, same city) and
chains (same name in another city).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import combinations

CITIES = (
    "北京", "上海", "广州", "深圳", "杭州", "南京", "苏州", "成都", "重庆", "武汉", "西安", "天津", "长沙",
    "郑州", "青岛", "宁波", "厦门", "济南", "合肥", "福州", "昆明", "沈阳", "大连", "无锡", "东莞", "佛山",
    "南昌", "石家庄", "太原", "哈尔滨",
)  # fmt: skip
DISTRICTS = ("东城区", "西城区", "朝阳区", "海淀区", "浦东新区", "徐汇区", "天河区", "南山区", "福田区", "西湖区",
             "鼓楼区", "高新区", "经开区", "江北区", "武侯区", "雁塔区", "和平区", "河西区", "滨江区", "工业园区")  # fmt: skip
ROADS = [
    "人民",
    "解放",
    "中山",
    "建设",
    "和平",
    "新华",
    "胜利",
    "长江",
    "黄河",
    "光明",
    "文化",
    "科技",
    "创业",
    "学院",
    "东风",
    "环城",
    "滨江",
    "湖滨",
    "金桥",
    "张江",
]
ROAD_KINDS = ("路", "大道", "街")
BRAND = (
    "华通达信恒泰嘉远宏盛鑫源瑞丰汇德安康博凯创新锦程永兴金星晨光东方明阳天宇海润中诚合力正和万隆佳美"
    "联众世纪银河星辰峰岭江川启航腾飞聚英卓越志远华夏龙腾凤祥福瑞吉祥昌荣富强国泰民安顺通百川千禧"
)
INDUSTRIES = ("科技", "贸易", "实业", "电子", "机械", "食品", "物流", "建材", "化工", "医药", "服装", "家具",
              "网络", "信息技术", "环保", "能源", "汽车配件", "文化传媒", "餐饮管理", "建筑工程")  # fmt: skip
SUFFIXES = ("有限公司", "有限公司", "有限公司", "有限责任公司", "股份有限公司", "(集团)有限公司")
_FW = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}


@dataclass
class Customers:
    """Rows as dicts (name, phone, address, city, updated) and the entity id of every row."""

    rows: list[dict[str, str | None]] = field(default_factory=list)
    entity: list[int] = field(default_factory=list)

    def true_pairs(self) -> set[tuple[int, int]]:
        """Every pair of rows (``a < b``) that belongs to one entity."""
        groups: dict[int, list[int]] = {}
        for row, e in enumerate(self.entity):
            groups.setdefault(e, []).append(row)
        return {p for rows in groups.values() if len(rows) > 1 for p in combinations(sorted(rows), 2)}


def _phone(rng: random.Random, used: set[int]) -> str:
    while True:
        number = int(rng.choice("35789") + "".join(rng.choices("0123456789", k=9)))
        if number not in used:
            used.add(number)
            return f"1{number}"


def _entity(rng: random.Random, used: set[int]) -> dict[str, str | None]:
    city = rng.choice(CITIES)
    brand = "".join(rng.sample(BRAND, 3))
    name = brand + rng.choice(INDUSTRIES) + rng.choice(SUFFIXES)
    if rng.random() < 0.3:
        name = city + name
    road = rng.choice(ROADS) + rng.choice(ROAD_KINDS)
    address = f"{city}市{rng.choice(DISTRICTS)}{road}{rng.randint(1, 999)}号"
    if rng.random() < 0.3:
        address += f"{rng.randint(1, 30)}层"
    return {"name": name, "phone": _phone(rng, used), "address": address, "city": city + "市",
            "updated": f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"}  # fmt: skip


def _typo(rng: random.Random, text: str) -> str:
    if len(text) < 2:
        return text
    i = rng.randrange(len(text))
    kind = rng.random()
    if kind < 0.5:
        return text[:i] + rng.choice(BRAND) + text[i + 1 :]
    if kind < 0.8 or i == len(text) - 1:
        return text[:i] + text[i + 1 :]
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


def _suffix_variant(rng: random.Random, row: dict[str, str | None]) -> None:
    name = row["name"] or ""
    for a, b in (
        ("有限责任公司", "有限公司"),
        ("(集团)", ""),
        ("股份有限公司", "股份公司"),
        ("有限公司", "有限责任公司"),
    ):
        if a in name:
            row["name"] = name.replace(a, b, 1)
            return
    row["name"] = name + rng.choice(("", " Co., Ltd."))


def _fullwidth(rng: random.Random, row: dict[str, str | None]) -> None:
    key = rng.choice(("name", "address", "phone"))
    value = row[key] or ""
    row[key] = (
        "".join(_FW.get(ch, ch) for ch in value)
        if key != "name"
        else value.replace("(", "（").replace(")", "）")
    )
    if key == "name" and value == row[key]:
        row[key] = value + "（集团）" if rng.random() < 0.2 else value.replace("有限", "有限\u3000", 1)


def _phone_format(rng: random.Random, row: dict[str, str | None]) -> None:
    p = row["phone"] or ""
    row["phone"] = rng.choice(
        (f"+86 {p[:3]} {p[3:7]} {p[7:]}", f"{p[:3]}-{p[3:7]}-{p[7:]}", f"0086{p}", f"(+86){p}", f"86-{p}")
    )


def _name_typo(rng: random.Random, row: dict[str, str | None]) -> None:
    name = row["name"] or ""
    core = len(name) - 4  # keep the suffix: typists slip in the part they type
    row["name"] = _typo(rng, name[:core]) + name[core:] if core > 2 else name


def _address_variant(rng: random.Random, row: dict[str, str | None]) -> None:
    address = row["address"] or ""
    row["address"] = address.replace("市", "", 1) if rng.random() < 0.5 else _typo(rng, address)


def _missing(rng: random.Random, row: dict[str, str | None]) -> None:
    row[rng.choice(("phone", "address"))] = None


def _city(rng: random.Random, row: dict[str, str | None]) -> None:
    row["city"] = (row["city"] or "").removesuffix("市")


PERTURBATIONS: tuple[Callable[[random.Random, dict[str, str | None]], None], ...] = (
    _suffix_variant, _fullwidth, _phone_format, _name_typo, _address_variant, _missing, _city,
)  # fmt: skip


def _hard_negative(rng: random.Random, base: dict[str, str | None], used: set[int]) -> dict[str, str | None]:
    other = _entity(rng, used)
    name = base["name"] or ""
    if rng.random() < 0.5:  # a sibling: same brand, other industry, same city
        for industry in INDUSTRIES:
            if industry in name:
                other["name"] = name.replace(
                    industry, rng.choice([i for i in INDUSTRIES if i != industry]), 1
                )
                break
        other["city"] = base["city"]
    else:  # a chain: same name, another city
        other["name"] = name
        while other["city"] == base["city"]:
            other["city"] = rng.choice(CITIES) + "市"
    return other


def generate_customers(rows: int, *, duplicate_rate: float = 0.02, seed: int = 20240630) -> Customers:
    """``rows`` customer records of which ``duplicate_rate`` are extra copies of another record."""
    rng = random.Random(seed)
    used: set[int] = set()
    duplicates = round(rows * duplicate_rate)
    originals: list[dict[str, str | None]] = []
    while len(originals) < rows - duplicates:
        if originals and rng.random() < 0.05:
            originals.append(_hard_negative(rng, rng.choice(originals), used))
        else:
            originals.append(_entity(rng, used))
    records = [(dict(r), e) for e, r in enumerate(originals)]
    for e in rng.sample(range(len(originals)), duplicates):
        copy = dict(originals[e])
        for perturb in rng.sample(PERTURBATIONS, rng.choice((1, 2, 2, 3))):
            perturb(rng, copy)
        records.append((copy, e))
    rng.shuffle(records)
    return Customers([r for r, _ in records], [e for _, e in records])
