import io, datetime, decimal
import pyarrow as pa, pyarrow.parquet as pq
from tests.factories import *
from labelhouse.tasks.importer import import_tasks

def pq_bytes(table):
    b = io.BytesIO(); pq.write_table(table, b); return b.getvalue()

def test_probe(app, db):
    owner = make_org(db)
    pid = make_project(db, owner)
    c = token_client(app, db, owner)
    t = pa.table({"text": ["a", "b"], "when": [datetime.datetime(2024,1,1), None], "tags": [[1,2],[3]]})
    r = c.post(f"/api/projects/{pid}/import?format=parquet", content=pq_bytes(t))
    print(r.status_code, r.text)
    t = pa.table({"text": ["c"], "blob": [b"\x00\x01"]})
    r = c.post(f"/api/projects/{pid}/import?format=parquet", content=pq_bytes(t))
    print(r.status_code, r.text)
    t = pa.table({"text": ["d"], "x": pa.array([float("nan")])})
    r = c.post(f"/api/projects/{pid}/import?format=parquet", content=pq_bytes(t))
    print(r.status_code, r.text)
    t = pa.table({"text": ["e"], "d": pa.array([decimal.Decimal("1.5")])})
    r = c.post(f"/api/projects/{pid}/import?format=parquet", content=pq_bytes(t))
    print(r.status_code, r.text)
    r = c.post(f"/api/projects/{pid}/import?format=parquet", content=b"not parquet")
    print(r.status_code, r.text)
    r = c.get(f"/api/projects/{pid}/tasks")
    print(r.json())
