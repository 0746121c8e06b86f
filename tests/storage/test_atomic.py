"""Atomic publish of a whole file: a temporary beside the target, moved into place."""

from __future__ import annotations

from airflow.sdk import ObjectStoragePath

from airflow_provider_intervals.storage.atomic import AtomicFile, write_atomically


def test_the_target_appears_whole_only_on_publish(tmp_path):
    target = ObjectStoragePath(f"file://{tmp_path}/out.jsonl")
    file = AtomicFile(target, "try1")
    file.write(b"one\n")
    assert not target.exists()
    assert file.temporary.exists()
    file.write(b"two\n")
    assert file.publish() is True
    assert target.read_bytes() == b"one\ntwo\n"
    assert not file.temporary.exists()


def test_nothing_written_publishes_nothing_and_discard_leaves_no_temporary(tmp_path):
    target = ObjectStoragePath(f"file://{tmp_path}/out.jsonl")
    assert AtomicFile(target, "a").publish() is False
    file = AtomicFile(target, "b")
    file.write(b"partial")
    file.discard()
    assert list(tmp_path.iterdir()) == []


def test_write_atomically_replaces_the_old_file(tmp_path):
    target = ObjectStoragePath(f"file://{tmp_path}/_manifest.json")
    write_atomically(target, "w1", b"old")
    write_atomically(target, "w2", b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["_manifest.json"]
