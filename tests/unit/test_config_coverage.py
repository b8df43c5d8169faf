"""Nothing in the config parses and is ignored: each field is read or rejected."""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import Descriptor, FileDescriptor

from tzrec.config import UNSUPPORTED, UNSUPPORTED_ON_CPU
from tzrec.config.coverage import (
    fields_read,
    reading_packages,
    uncovered,
    unknown_keys,
    unread_names,
)
from tzrec.protos import pipeline_pb2

ROOT = pipeline_pb2.EasyRecConfig.DESCRIPTOR


def test_every_field_is_read_or_not_supported() -> None:
    missing = uncovered(ROOT, fields_read(), UNSUPPORTED)
    assert missing == [], (
        "config fields neither read (add MessageName.field to the FIELDS_READ "
        "of the package that reads it) nor in tzrec.config.UNSUPPORTED: "
        + ", ".join(missing)
    )


def test_fields_read_name_real_fields() -> None:
    assert unknown_keys(ROOT, fields_read()) == []


def test_each_package_mentions_the_fields_it_claims_to_read() -> None:
    for package in reading_packages():
        module = __import__(f"{package}.fields_read", fromlist=["FIELDS_READ"])
        unread = sorted(unread_names(package, list(module.FIELDS_READ)))
        assert unread == [], (package, unread)


def test_unsupported_tables_name_real_paths() -> None:
    from tzrec.config import find_in_use

    config = pipeline_pb2.EasyRecConfig()
    for path in list(UNSUPPORTED) + list(UNSUPPORTED_ON_CPU):
        list(find_in_use(config, path))  # KeyError on a typo


def _files_in_dependency_order(root: FileDescriptor) -> list[FileDescriptor]:
    ordered: list[FileDescriptor] = []

    def visit(f: FileDescriptor) -> None:
        if f in ordered:
            return
        for dep in f.dependencies:
            visit(dep)
        ordered.append(f)

    visit(root)
    return ordered


def _schema_with_extra_field(message: str, field: str) -> Descriptor:
    """EasyRecConfig rebuilt in a fresh pool with one more optional string field."""
    pool = descriptor_pool.DescriptorPool()
    for f in _files_in_dependency_order(pipeline_pb2.DESCRIPTOR):
        proto = descriptor_pb2.FileDescriptorProto()
        f.CopyToProto(proto)
        for msg in proto.message_type:
            if msg.name == message:
                msg.field.add(
                    name=field,
                    number=9999,
                    label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
                    type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
                )
        pool.Add(proto)
    return pool.FindMessageTypeByName("tzrec.protos.EasyRecConfig")


def test_a_new_field_nobody_reads_fails_the_check() -> None:
    schema = _schema_with_extra_field("DataConfig", "brand_new_option")
    assert schema.fields_by_name["data_config"].message_type.fields_by_name[
        "brand_new_option"
    ]
    read = fields_read()
    assert uncovered(schema, read, UNSUPPORTED) == ["data_config.brand_new_option"]
    # Either way of accounting for it makes the check pass again.
    read_too = {**read, "DataConfig.brand_new_option": []}
    assert uncovered(schema, read_too, UNSUPPORTED) == []
    rejected = {**UNSUPPORTED, "data_config.brand_new_option": "not yet"}
    assert uncovered(schema, read, rejected) == []


def test_a_new_field_in_a_shared_message_is_reported_at_every_path() -> None:
    schema = _schema_with_extra_field("MLP", "new_knob")
    missing = uncovered(schema, fields_read(), UNSUPPORTED)
    assert "model_config.deepfm.deep.new_knob" in missing
    assert "model_config.mmoe.task_towers.mlp.new_knob" in missing
    assert all(p.endswith(".new_knob") for p in missing)
