#!/usr/bin/env bash
# Creates the quickstart's data when missing: an orders database (orders.db) and
# a folder of assets (assets/). The data are generated from a fixed seed, so
# every run makes the same bytes. Does nothing when the data are already there
# (an assets folder holding only readme.txt, from an earlier quickstart, is filled).
#
#   scripts/quickstart-seed.sh [DATA_DIR]   (default: examples/quickstart-data)
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
data="${1:-$repo/examples/quickstart-data}"
mkdir -p "$data"

python3 - "$data" <<'PY'
import os
import random
import sqlite3
import sys

data = sys.argv[1]
db_path = os.path.join(data, "orders.db")
assets = os.path.join(data, "assets")


def seed_orders(path):
    """customers, products, orders and order_lines: about 7,500 rows."""
    rng = random.Random(20261128)
    tmp = path + ".seeding"
    if os.path.exists(tmp):
        os.remove(tmp)  # left by an interrupted run
    db = sqlite3.connect(tmp)
    db.executescript("""
        CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT,
                               country TEXT, created_at TEXT);
        CREATE TABLE products(sku TEXT PRIMARY KEY, title TEXT NOT NULL, price_cents INTEGER);
        CREATE TABLE orders(id INTEGER PRIMARY KEY, customer_id INTEGER, status TEXT,
                            total_cents INTEGER, created_at TEXT);
        CREATE TABLE order_lines(order_id INTEGER, line INTEGER, sku TEXT, qty INTEGER,
                                 PRIMARY KEY(order_id, line));
    """)
    first = ["Ada", "Alan", "Grace", "Linus", "Edsger", "Barbara", "Ken", "Dennis",
             "Margaret", "Donald", "Frances", "John", "Radia", "Niklaus", "Hedy", "Tim"]
    last = ["Lovelace", "Turing", "Hopper", "Torvalds", "Dijkstra", "Liskov", "Thompson",
            "Ritchie", "Hamilton", "Knuth", "Allen", "McCarthy", "Perlman", "Wirth", "Lamarr"]
    countries = ["DE", "FR", "NL", "ES", "IT", "SE", "PL", "GB", "US", "CA", "JP", "BR"]

    def day(n):  # a date in 2025, as text
        month, mday = divmod(n % 336, 28)
        return f"2025-{month + 1:02d}-{mday + 1:02d}"

    customers = []
    for i in range(1, 501):
        f, l = rng.choice(first), rng.choice(last)
        customers.append((i, f"{f} {l}", f"{f}.{l}{i}@example.com".lower(),
                          rng.choice(countries), f"{day(rng.randrange(336))} 09:00:00"))
    db.executemany("INSERT INTO customers VALUES (?, ?, ?, ?, ?)", customers)

    kinds = ["mug", "shirt", "poster", "sticker", "cap", "hoodie", "notebook", "pen", "bag", "pin"]
    colours = ["red", "blue", "green", "black", "white"]
    products = {}
    for n in range(50):
        sku = f"SKU-{n + 1:04d}"
        products[sku] = rng.randrange(199, 9999)
        db.execute("INSERT INTO products VALUES (?, ?, ?)",
                   (sku, f"{colours[n % 5]} {kinds[n // 5]}", products[sku]))

    statuses = ["new", "paid", "paid", "paid", "shipped", "shipped", "cancelled"]
    skus = sorted(products)
    for order_id in range(1, 2001):
        lines = [(order_id, line, rng.choice(skus), rng.randint(1, 5))
                 for line in range(1, rng.randint(1, 4) + 1)]
        total = sum(products[sku] * qty for _, _, sku, qty in lines)
        db.execute("INSERT INTO orders VALUES (?, ?, ?, ?, ?)",
                   (order_id, rng.randint(1, 500), rng.choice(statuses), total,
                    f"{day(order_id // 6)} {rng.randrange(24):02d}:{rng.randrange(60):02d}:00"))
        db.executemany("INSERT INTO order_lines VALUES (?, ?, ?, ?)", lines)
    db.commit()
    # WAL: megasync's snapshot read does not hold back your writes meanwhile.
    db.execute("PRAGMA journal_mode=WAL")
    db.close()
    os.replace(tmp, path)
    counts = sqlite3.connect(path)
    summary = ", ".join(
        f"{n} {t}" for t in ("customers", "products", "orders", "order_lines")
        for (n,) in [counts.execute(f"SELECT count(*) FROM {t}").fetchone()])
    counts.close()
    print(f"quickstart-seed: created {path} ({summary})")


def seed_assets(root):
    """About 50 small text and binary files in a few folders."""
    rng = random.Random(7171)
    files = {"index.html": b"<!doctype html>\n<title>megasync quickstart</title>\n"
                           b"<link rel=stylesheet href=css/site.css>\n<h1>Hello</h1>\n",
             "readme.txt": b"megasync quickstart assets: edit, add or delete files here\n"
                           b"and watch the mirror folder follow.\n"}
    for n in range(12):
        rules = "".join(f".c{n}-{k} {{ margin: {rng.randrange(32)}px; color: "
                        f"#{rng.randrange(1 << 24):06x}; }}\n" for k in range(rng.randint(3, 20)))
        files[f"css/{'site' if n == 0 else f'page{n}'}.css"] = rules.encode()
    for n in range(16):
        body = "".join(f"export function f{k}(x) {{ return x * {rng.randrange(100)}; }}\n"
                       for k in range(rng.randint(2, 30)))
        files[f"js/{'app' if n == 0 else f'module{n}'}.js"] = body.encode()
    for n in range(14):  # binary, PNG-like: a PNG signature and random bytes
        files[f"img/icon{n}.png"] = (b"\x89PNG\r\n\x1a\n"
                                     + bytes(rng.randrange(256) for _ in range(rng.randint(64, 4096))))
    for n in range(6):
        files[f"img/photos/photo{n}.jpg"] = (b"\xff\xd8\xff\xe0"
                                             + bytes(rng.randrange(256) for _ in range(rng.randint(2048, 16384))))
    for path, content in files.items():
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(content)
    print(f"quickstart-seed: created {root} ({len(files)} files)")


if not os.path.exists(db_path):
    seed_orders(db_path)
# Missing, empty, or holding only the readme of an earlier quickstart.
if not os.path.isdir(assets) or set(os.listdir(assets)) <= {"readme.txt"}:
    seed_assets(assets)
PY
