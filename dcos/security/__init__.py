"""dcos-py security: the cluster CA, mutual TLS, tokens, passwords, secrets, Mesos-style ACLs.

Security is off unless a component gets ``--security-dir DIR`` (`dcos.security.options`); then
its shell holds a `dcos.security.context.SecurityContext` built from that directory (made by
``dcos-py up --secure`` through `dcos.security.layout`). Modules, one job each:

- `principal`: `Principal`, `Identity` (who made a request, and how).
- `ca`: a CA and certificates in memory (pure `cryptography`, no files).
- `layout`: the security directory on disk; `init_security_dir`, `rotate`.
- `tls`: server and client `ssl.SSLContext`s, `peer_identity`, `CertReloader`.
- `tokens`: RS256 bearer tokens (PyJWT); `passwords`: scrypt; `secretbox`: AES-256-GCM.
- `credentials`: the Mesos ``--credentials`` file; `acls`: Mesos ACL semantics (sans-IO).
- `limits`: token-bucket rate limits and stream counts (sans-IO).
- `context`: `SecurityContext`, `load_context`, `RevocationList`.
- `options`: ``--security-dir``/``--tls-name`` for every ``__main__``; `base_url`.
- `http`: the aiohttp half: `authenticate`, `auth_middleware`, `forbidden`, `PolicyFeed`.
"""
