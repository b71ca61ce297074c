"""IAM and secrets of a secure cluster: users and service accounts, login (RS256 bearer tokens),
logout and revocation, the ACL document, the secret store, and the bootstrap superuser.

The master serves it (`dcos.master.http.iam`, mounted when the master runs with
``--security-dir``); everything here is free of sockets and files: `IamService` works on the
master's `StateStore` (compare-and-set, so several HA masters can share ZooKeeper) with keys
handed in (`IamKeys`, read from the security directory by `dcos.iam.keys.load_keys`).

Modules: `ids` (typed uids and secret paths, validated), `problems` (refusals in the DC/OS
IAM error format), `model` (stored records), `requests` (request bodies -> typed requests),
`service` (the operations), `keys` (token and secret keys).
"""

from dcos.iam.ids import SecretPath, Uid, parse_secret_path, parse_uid
from dcos.iam.keys import IamKeys, load_keys
from dcos.iam.problems import Problem
from dcos.iam.service import IamService, Policy

__all__ = [
    "IamKeys",
    "IamService",
    "Policy",
    "Problem",
    "SecretPath",
    "Uid",
    "load_keys",
    "parse_secret_path",
    "parse_uid",
]
