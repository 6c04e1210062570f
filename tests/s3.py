"""An S3 server for the tests: moto's, in a thread of the test process on a free loopback port,
started once per session (``moto_s3`` in ``conftest.py``), with a fresh bucket per test.

The stores under test find dummy credentials where every S3 client looks, ``AWS_ACCESS_KEY_ID``
and ``AWS_SECRET_ACCESS_KEY``, which the session fixture sets (``ENVIRONMENT``), together with a
switch that keeps boto from ever asking an instance-metadata address for credentials.

Every server of the scale-out shape opens an S3 store, which makes a new boto3 session, and each
new session parses botocore's S3 model afresh (a megabyte of JSON, ~0.1 s). ``share_loader``
gives every session of the test process one loader, which keeps what it parsed.
"""

from __future__ import annotations

import logging
import os
import uuid
from typing import Any

import boto3.session
import botocore.loaders
import pytest
from moto.server import ThreadedMotoServer

from tests.live import free_port

REGION = "us-east-1"
ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "dingstore-test",
    "AWS_SECRET_ACCESS_KEY": "dingstore-test-secret",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def share_loader(patch: pytest.MonkeyPatch) -> None:
    """Make every boto3 session use one botocore loader (it caches the models it loaded)."""
    loader = botocore.loaders.create_loader()
    loader.search_paths.append(os.path.join(os.path.dirname(boto3.__file__), "data"))

    def setup_loader(self: Any) -> None:  # what boto3.session.Session does, with our loader
        self._session.register_component("data_loader", loader)
        self._loader = loader

    patch.setattr(boto3.session.Session, "_setup_loader", setup_loader)


class MotoS3:
    def __init__(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a log line per request else
        port = free_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self._server.start()
        self.endpoint = f"http://127.0.0.1:{port}"
        session = boto3.session.Session(
            aws_access_key_id=ENVIRONMENT["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=ENVIRONMENT["AWS_SECRET_ACCESS_KEY"],
        )
        self.client = session.client("s3", endpoint_url=self.endpoint, region_name=REGION)

    def new_bucket(self) -> str:
        name = f"dingstore-{uuid.uuid4().hex[:16]}"
        self.client.create_bucket(Bucket=name)
        return name

    def url(self, bucket: str) -> str:
        """The ``DINGSTORE_BLOB_URL`` of a bucket."""
        return f"s3://{bucket}?endpoint={self.endpoint}&region={REGION}"

    def keys(self, bucket: str) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return sorted(found["Key"] for page in pages for found in page.get("Contents", []))

    def uploads(self, bucket: str) -> list[str]:
        """The keys of the multipart uploads in progress."""
        answer = self.client.list_multipart_uploads(Bucket=bucket)
        return sorted(upload["Key"] for upload in answer.get("Uploads", []))

    def drop(self, bucket: str) -> None:
        for upload in self.client.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
            self.client.abort_multipart_upload(
                Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
            )
        for key in self.keys(bucket):
            self.client.delete_object(Bucket=bucket, Key=key)
        self.client.delete_bucket(Bucket=bucket)

    def stop(self) -> None:
        self.client.close()
        self._server.stop()
