#!/usr/bin/env python3
"""Renders synthetic 行驶证 (vehicle licence) photos with known ground truth.

SYNTHETIC TEST DATA: every value is generated (plates from the real province/authority
letters, VINs with a valid ISO 3779 check digit, dates, names and addresses made up); the
layout follows the printed form (GA 37: labels in Chinese with English beside them, the
issuing authority's seal on the front). Damage is applied on request: rotation,
perspective, blur, JPEG noise, glare and low resolution.

Usage:
  render.py --out DIR --count N [--seed S] [--side front|back|both] [--damage none|mixed|heavy]
Writes DIR/NNNN-front.jpg (or -back), and DIR/truth.jsonl: one JSON object per image with
`file`, `side`, `damage` and `fields` (the expected value of every field, by the names the
engine uses: plate, vehicle_type, owner, address, use_character, model, vin, engine_number,
register_date, issue_date, seal; plate, file_number, approved_passengers, total_mass,
curb_weight, rated_load, external_size, traction_mass, inspection_record).

Needs Pillow and a CJK font (Debian: fonts-wqy-zenhei); scripts/ocr-tools.sh installs both.
"""
import argparse
import json
import math
import pathlib
import random
import sys

from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_CANDIDATES = [
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
]

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
# Letters O and I are not issued as authority letters.
AUTH_LETTERS = "ABCDEFGHJKLMN"
SERIAL = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志强海燕红梅文博子轩浩然欣怡思远雨桐俊杰婷婷"
CITIES = [("广东省", "深圳市", "南山区"), ("北京市", "", "朝阳区"), ("上海市", "", "浦东新区"),
          ("浙江省", "杭州市", "西湖区"), ("江苏省", "苏州市", "工业园区"), ("四川省", "成都市", "武侯区"),
          ("湖北省", "武汉市", "洪山区"), ("陕西省", "西安市", "雁塔区"), ("福建省", "厦门市", "思明区"),
          ("山东省", "青岛市", "市南区")]
ROADS = ["科技中一路", "建国路", "世纪大道", "文三路", "星湖街", "天府大道", "珞喻路", "高新路", "湖滨南路", "香港中路"]
VEHICLE_TYPES = ["小型轿车", "小型普通客车", "小型越野客车", "中型普通客车", "重型半挂牵引车", "轻型普通货车", "大型普通客车"]
USE_CHARACTERS = ["非营运", "非营运", "非营运", "营运", "出租客运", "租赁", "预约出租客运", "货运", "营转非"]
BRANDS = [("大众汽车牌", "FV7147FBDBG"), ("丰田牌", "TV7180GLXE"), ("本田牌", "HG7154BAC5"), ("别克牌", "SGM7158LAT1"),
          ("比亚迪牌", "BYD7006BEV"), ("东风雪铁龙牌", "DC7183LYAA"), ("吉利牌", "JL7152L14"), ("长安牌", "SC7164AAA6"),
          ("宝马牌", "BMW7200MM"), ("奔驰牌", "BJ7204GEL"), ("解放牌", "CA4250P66K24T1A"), ("福田牌", "BJ1045V9JDA")]
VIN_WMIS = ["LFV", "LSV", "LVG", "LHG", "LSG", "LGX", "LDC", "LVS", "LBV", "WDD", "LGW", "LZW", "LRW", "LNB"]
FUELS = ["汽油", "柴油", "电", "混合油"]

TRANSLIT = {**{str(d): d for d in range(10)},
            **dict(zip("ABCDEFGH", range(1, 9))), **dict(zip("JKLMN", range(1, 6))), "P": 7, "R": 9,
            **dict(zip("STUVWXYZ", range(2, 10)))}
WEIGHTS = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2]
VIN_CHARS = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"


def vin(rng):
    body = rng.choice(VIN_WMIS) + "".join(rng.choice(VIN_CHARS) for _ in range(5)) + "0" + \
        rng.choice("ABCDEFGHJKLMNPRSTVWXY123456789") + rng.choice(VIN_CHARS) + \
        "".join(rng.choice("0123456789") for _ in range(6))
    total = sum(TRANSLIT[c] * w for c, w in zip(body, WEIGHTS))
    check = total % 11
    return body[:8] + ("X" if check == 10 else str(check)) + body[9:]


def plate(rng):
    p = rng.choice(PROVINCES) + rng.choice(AUTH_LETTERS)
    serial = [rng.choice(SERIAL) for _ in range(5)]
    # At most two letters in an ordinary serial.
    letters = [i for i, c in enumerate(serial) if c.isalpha()]
    for i in letters[2:]:
        serial[i] = rng.choice("0123456789")
    return p + "".join(serial)


def date(rng, start_year, end_year):
    y = rng.randint(start_year, end_year)
    m = rng.randint(1, 12)
    d = rng.randint(1, 28)
    return f"{y:04d}-{m:02d}-{d:02d}"


def front_fields(rng):
    province, city, district = rng.choice(CITIES)
    brand, model = rng.choice(BRANDS)
    reg = date(rng, 2008, 2024)
    issue = reg if rng.random() < 0.6 else date(rng, int(reg[:4]), 2025)
    if issue < reg:
        issue = reg
    seal_city = city or province
    return {
        "plate": plate(rng),
        "vehicle_type": rng.choice(VEHICLE_TYPES),
        "owner": rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2))),
        "address": f"{province}{city}{district}{rng.choice(ROADS)}{rng.randint(1, 999)}号",
        "use_character": rng.choice(USE_CHARACTERS),
        "model": brand + model,
        "vin": vin(rng),
        "engine_number": "".join(rng.choice(SERIAL) for _ in range(rng.randint(7, 10))),
        "register_date": reg,
        "issue_date": issue,
        "seal": f"{province if city else ''}{seal_city}公安局交通警察支队",
    }


def back_fields(rng):
    curb = rng.randint(1100, 2400)
    total = curb + rng.randint(300, 600)
    l, w, h = rng.randint(4200, 5200), rng.randint(1700, 2000), rng.randint(1400, 1900)
    y, m = rng.randint(2020, 2027), rng.randint(1, 12)
    return {
        "plate": plate(rng),
        "file_number": "".join(rng.choice("0123456789") for _ in range(12)),
        "approved_passengers": f"{rng.choice([2, 5, 5, 5, 7, 9])}人",
        "total_mass": f"{total}kg",
        "curb_weight": f"{curb}kg",
        "rated_load": "--",
        "external_size": f"{l}×{w}×{h}mm",
        "traction_mass": "--",
        "inspection_record": f"检验有效期至{y}年{m:02d}月{rng.choice(PROVINCES)}{rng.choice(AUTH_LETTERS)}({rng.randint(1, 9):02d}){rng.choice(FUELS)}",
    }


FRONT_ROWS = [
    [("号牌号码", "Plate No.", "plate"), ("车辆类型", "Vehicle Type", "vehicle_type")],
    [("所有人", "Owner", "owner")],
    [("住址", "Address", "address")],
    [("使用性质", "Use Character", "use_character"), ("品牌型号", "Model", "model")],
    [("车辆识别代号", "VIN", "vin")],
    [("发动机号码", "Engine No.", "engine_number")],
    [("注册日期", "Register Date", "register_date"), ("发证日期", "Issue Date", "issue_date")],
]
BACK_ROWS = [
    [("号牌号码", "", "plate"), ("档案编号", "", "file_number")],
    [("核定载人数", "", "approved_passengers"), ("总质量", "", "total_mass")],
    [("整备质量", "", "curb_weight"), ("核定载质量", "", "rated_load")],
    [("外廓尺寸", "", "external_size")],
    [("准牵引总质量", "", "traction_mass"), ("备注", "", None)],
    [("检验记录", "", "inspection_record")],
]


def font(size):
    for path in FONT_CANDIDATES:
        if pathlib.Path(path).exists():
            return ImageFont.truetype(path, size)
    sys.exit("render.py: no CJK font found; install fonts-wqy-zenhei (scripts/ocr-tools.sh does)")


def render(side, fields, rng):
    width, height = 1200, 820
    paper = tuple(rng.randint(228, 246) for _ in range(3))
    img = Image.new("RGB", (width, height), paper)
    d = ImageDraw.Draw(img)
    title_font, label_font, en_font, value_font = font(40), font(28), font(15), font(30)
    ink = (30, 30, 30)
    label_ink = (60, 60, 70)
    title = "中华人民共和国机动车行驶证" if side == "front" else "中华人民共和国机动车行驶证副页"
    d.text((width // 2, 50), title, font=title_font, fill=ink, anchor="mm")
    rows = FRONT_ROWS if side == "front" else BACK_ROWS
    y = 130
    for row in rows:
        x = 60
        for label, english, key in row:
            d.text((x, y), label, font=label_font, fill=label_ink)
            lw = d.textlength(label, font=label_font)
            if english:
                d.text((x, y + 32), english, font=en_font, fill=label_ink)
            vx = x + lw + 30
            if key:
                d.text((vx, y), fields[key], font=value_font, fill=ink)
                x = vx + d.textlength(fields[key], font=value_font) + 70
            else:
                x = vx + 60
            x = max(x, 620) if len(row) > 1 and x < 620 else x
        y += 85
    if side == "front":
        # The seal: a red ring with the authority's name along the bottom.
        cx, cy, r = 260, y + 40, 70
        red = (200, 40, 40)
        d.ellipse((cx - r, cy - r, cx + r, cy + r), outline=red, width=4)
        d.text((cx, cy), "★", font=font(36), fill=red, anchor="mm")
        d.text((cx + r + 20, cy - 14), fields["seal"], font=font(24), fill=red)
    return img


def damage(img, rng, level):
    applied = []
    if level == "none":
        return img, applied
    heavy = level == "heavy"
    if rng.random() < (0.9 if heavy else 0.6):
        angle = rng.uniform(-8, 8) if heavy else rng.uniform(-4, 4)
        img = img.rotate(angle, resample=Image.BICUBIC, expand=True, fillcolor=(90, 90, 90))
        applied.append(f"rotate {angle:.1f}")
    if rng.random() < (0.7 if heavy else 0.4):
        w, h = img.size
        k = 0.06 if heavy else 0.03
        dx = [rng.uniform(0, k) * w for _ in range(4)]
        dy = [rng.uniform(0, k) * h for _ in range(4)]
        quad = (dx[0], dy[0], dx[1], h - dy[1], w - dx[2], h - dy[2], w - dx[3], dy[3])
        img = img.transform((w, h), Image.QUAD, quad, resample=Image.BICUBIC)
        applied.append("perspective")
    if rng.random() < (0.5 if heavy else 0.3):
        # Glare: a bright soft ellipse.
        w, h = img.size
        glare = Image.new("L", (w, h), 0)
        gd = ImageDraw.Draw(glare)
        cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
        rx, ry = rng.uniform(0.1, 0.25) * w, rng.uniform(0.08, 0.2) * h
        gd.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=int(140 if heavy else 100))
        glare = glare.filter(ImageFilter.GaussianBlur(40))
        img = Image.composite(Image.new("RGB", (w, h), (255, 255, 255)), img, glare)
        applied.append("glare")
    if rng.random() < (0.6 if heavy else 0.4):
        radius = rng.uniform(0.8, 1.6 if heavy else 1.1)
        img = img.filter(ImageFilter.GaussianBlur(radius))
        applied.append(f"blur {radius:.1f}")
    if rng.random() < (0.5 if heavy else 0.3):
        scale = rng.uniform(0.5, 0.75) if heavy else rng.uniform(0.65, 0.85)
        w, h = img.size
        img = img.resize((int(w * scale), int(h * scale)), Image.BILINEAR)
        applied.append(f"scale {scale:.2f}")
    applied.append("jpeg")
    return img, applied


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=10)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--side", choices=["front", "back", "both"], default="both")
    ap.add_argument("--damage", choices=["none", "mixed", "heavy"], default="mixed")
    args = ap.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    with open(out / "truth.jsonl", "w", encoding="utf-8") as truth:
        for i in range(args.count):
            side = args.side if args.side != "both" else ("front" if i % 2 == 0 else "back")
            fields = front_fields(rng) if side == "front" else back_fields(rng)
            img = render(side, fields, rng)
            level = args.damage
            if level == "mixed":
                level = "none" if i % 3 == 0 else ("heavy" if i % 3 == 2 else "mixed")
            img, applied = damage(img, rng, level)
            name = f"{i:04d}-{side}.jpg"
            quality = rng.randint(55, 80) if level == "heavy" else rng.randint(75, 92)
            img.save(out / name, "JPEG", quality=quality)
            truth.write(json.dumps({"file": name, "side": side, "damage": applied if level != "none" else [],
                                    "fields": fields}, ensure_ascii=False) + "\n")
    print(f"render.py: {args.count} images in {out}")


if __name__ == "__main__":
    main()
