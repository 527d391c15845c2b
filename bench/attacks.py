"""Hostile anonymous requests against a live Masthead: status, time, the worker's memory.

    python bench/attacks.py http://127.0.0.1:8000/graphql <worker pid>

Run it against a server with MASTHEAD_RATE_LIMIT=0 (it sends everything from one address).
Results: bench/results/hardening.md.
"""
import json, sys, time, subprocess, httpx
URL = sys.argv[1]; PID = int(sys.argv[2])
def rss():
    with open(f"/proc/{PID}/status") as f:
        for line in f:
            if line.startswith("VmRSS"): return int(line.split()[1]) // 1024
def run(name, **kw):
    t = time.perf_counter()
    try:
        r = httpx.post(URL, timeout=120, **kw)
        took = time.perf_counter() - t
        body = r.text
        code = ""
        try:
            j = r.json(); errs = j.get("errors") if isinstance(j, dict) else None
            code = errs[0]["extensions"]["code"] if errs else "ok"
        except Exception: code = body[:40]
        print(f"| {name} | {r.status_code} {code} | {took*1000:.0f} ms | {len(r.content)} B | {rss()} MB |")
    except Exception as e:
        print(f"| {name} | {type(e).__name__} | {(time.perf_counter()-t)*1000:.0f} ms | | {rss()} MB |")
slugs = lambda n: json.dumps([f"tag-{i}" for i in range(n)])
print(f"start rss {rss()} MB")
run("tagSlugs x5000", json={"query": "{ articles(filter: {tagSlugs: %s}) { totalCount } }" % slugs(5000)})
run("tagSlugs x1000", json={"query": "{ articles(filter: {tagSlugs: %s}) { totalCount } }" % slugs(1000)})
run("tagSlugs x200", json={"query": "{ articles(filter: {tagSlugs: %s}) { totalCount } }" % slugs(200)})
for n in (22, 40):
    frags = ["fragment F0 on Article { id title }"] + [f"fragment F{i} on Article {{ ...F{i-1} ...F{i-1} slug }}" for i in range(1, n+1)]
    run(f"fragment fan-out n={n}", json={"query": '{ article(slug: "x") { ...F%d } } ' % n + " ".join(frags)})
deep = "{ articles(first: 100) { nodes { author { articles(first: 100) { nodes { author { articles(first: 100) { nodes { author { articles(first: 100) { nodes { title } } } } } } } } } } } }"
run("nested articles(first: 100) depth 9", json={"query": deep})
big = b'{"query": "{ tags { totalCount } }", "x": "' + b"a" * (100 * 1024 * 1024) + b'"}'
run("100 MB body (Content-Length)", content=big, headers={"content-type": "application/json"})
def chunks():
    for _ in range(100): yield b"a" * (1024 * 1024)
run("100 MB body (chunked)", content=chunks(), headers={"content-type": "application/json"})
for name, body in [("JSON null", b"null"), ("JSON 42", b"42"), ("invalid UTF-8", b'{"query":"\xff"}'), ("JSON nested 100,000 deep", b"[" * 100000 + b"]" * 100000)]:
    run(name, content=body, headers={"content-type": "application/json"})
run("misspelt field", json={"query": "{ artcle(slug: \"x\") { id } }"})
run("lone surrogate in a slug", content=b'{"query":"query($s:String!){ article(slug:$s){ id } }","variables":{"s":"x\\ud800"}}', headers={"content-type": "application/json"})
run("NUL in a slug", content=b'{"query":"query($s:String!){ article(slug:$s){ id } }","variables":{"s":"x\\u0000"}}', headers={"content-type": "application/json"})
print(f"end rss {rss()} MB")
