#!/usr/bin/env python3
"""What a bucket holds, seen through the S3 API with boto3 (not through bucketfs):
  s3api_check.py ENDPOINT REGION BUCKET keys [PREFIX]     every key under PREFIX, one a line
  s3api_check.py ENDPOINT REGION BUCKET top [PREFIX]      keys and common prefixes of one level (delimiter /)
  s3api_check.py ENDPOINT REGION BUCKET size KEY          the object's size
  s3api_check.py ENDPOINT REGION BUCKET uploads           incomplete multipart uploads, one a line
Keys come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. Path-style, SigV4."""
import sys

import boto3
from botocore.config import Config

endpoint, region, bucket, what = sys.argv[1:5]
arg = sys.argv[5] if len(sys.argv) > 5 else ""
s3 = boto3.client("s3", endpoint_url=endpoint, region_name=region,
                  config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}))

if what in ("keys", "top"):
    kwargs = {"Bucket": bucket, "Prefix": arg}
    if what == "top":
        kwargs["Delimiter"] = "/"
    for page in s3.get_paginator("list_objects_v2").paginate(**kwargs):
        for o in page.get("Contents", []):
            print(o["Key"])
        for p in page.get("CommonPrefixes", []):
            print(p["Prefix"])
elif what == "size":
    print(s3.head_object(Bucket=bucket, Key=arg)["ContentLength"])
elif what == "uploads":
    for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        print(u["Key"], u["UploadId"])
else:
    sys.exit("unknown check " + what)
