#!/usr/bin/python3
"""Writes and reads GridFS files with pymongo's own GridFS code (Debian's python3-gridfs),
so the tests can check that other drivers read what video2mp3 writes, and the other way
round.

    gridfs_interop.py put URI BUCKET FILE      stores FILE, prints the new file's id
    gridfs_interop.py get URI BUCKET ID OUT    writes the file with that id to OUT,
                                               prints the SHA-256 of what it wrote

URI names the database in its path. Exit status 0 on success, 1 on any error (the
reason on stderr). Run it with /usr/bin/python3, which has pymongo.
"""

import hashlib
import os
import sys

import bson
import gridfs
import pymongo


def bucket_for(uri: str, name: str) -> gridfs.GridFSBucket:
    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000)
    database = client.get_default_database()
    # disable_md5: the GridFS specification dropped MD5; video2mp3 keeps SHA-256 instead.
    return gridfs.GridFSBucket(database, bucket_name=name, disable_md5=True)


def put(uri: str, bucket_name: str, path: str) -> None:
    bucket = bucket_for(uri, bucket_name)
    with open(path, "rb") as source:
        file_id = bucket.upload_from_stream(os.path.basename(path), source)
    print(str(file_id))


def get(uri: str, bucket_name: str, file_id: str, out_path: str) -> None:
    bucket = bucket_for(uri, bucket_name)
    digest = hashlib.sha256()
    with open(out_path, "wb") as out:
        stream = bucket.open_download_stream(bson.ObjectId(file_id))
        while True:
            data = stream.read(1 << 20)
            if not data:
                break
            digest.update(data)
            out.write(data)
    print(digest.hexdigest())


def main(argv: list) -> int:
    try:
        if len(argv) == 5 and argv[1] == "put":
            put(argv[2], argv[3], argv[4])
        elif len(argv) == 6 and argv[1] == "get":
            get(argv[2], argv[3], argv[4], argv[5])
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except (pymongo.errors.PyMongoError, gridfs.errors.GridFSError, OSError) as error:
        print(f"gridfs_interop: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
