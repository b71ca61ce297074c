"""`dcos-py ca show|rotate`: the cluster CA of a local `dcos-py up --secure` cluster.

`show` reads ``<work dir>/security``: each CA in ca.crt (the current one first; after a
rotation the previous one follows until the next rotation) with its subject, SHA-256
fingerprint and expiry, then every certificate in certs/ (name, kind, hosts, expiry, and
which CA signed it). `rotate` calls `dcos.security.layout.rotate` on it while the cluster
runs: a new CA (ca.crt = new + previous, so both verify during the switch), then every
certificate re-issued with the same kind. The components' `CertReloader`s pick the files up
within a few seconds: nothing restarts, tasks keep running.

Called by: `dcos.cli.main` (the `ca` group). Plain files; no network.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from dcos.cli.commands._common import JsonOpt, command_group, console, one_line_errors, print_json
from dcos.cli.errors import CliError
from dcos.cli.up_secure import SECURITY_DIR

app = command_group("The cluster CA of a `dcos-py up --secure` cluster: show it, rotate it.")

GRACE_S = 2.5  # a bit more than the components' CertReloader poll (2 s): every peer trusts
#                the new CA before any presents a certificate it signed

WorkDirOpt = Annotated[Path, typer.Option(
    "--work-dir", help="The cluster's work dir (as given to `dcos-py up`).")]


def security_root(work_dir: Path) -> Path:
    """``<work_dir>/security``; `CliError` when it holds no CA (not an `up --secure` dir)."""
    root = work_dir.resolve() / SECURITY_DIR
    if not (root / "ca.crt").is_file() or not (root / "ca.key").is_file():
        raise CliError(f"no cluster CA in {root}: start the cluster with `dcos-py up --secure "
                       f"--work-dir {work_dir}` first")
    return root


def _info(info: Any) -> dict[str, Any]:
    return {"subject": info.common_name, "kind": info.kind, "hosts": list(info.hosts),
            "not_before": info.not_before.isoformat(), "not_after": info.not_after.isoformat(),
            "serial": f"{info.serial:x}", "issuer": info.issuer,
            "fingerprint_sha256": info.fingerprint_sha256}


def describe_dir(root: Path) -> dict[str, Any]:
    """What `show` prints: {"dir", "cas": [...], "certificates": [...]}."""
    from dcos.security import ca, layout

    sd = layout.SecurityDir(root)
    try:
        cas = [_info(ca.describe(c)) for c in ca.load_certs(sd.ca_cert.read_bytes())]
        certs = []
        for name in sd.names():
            entry = _info(ca.describe(ca.load_cert(sd.cert(name).read_bytes())))
            certs.append({"name": name, **entry})
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read the certificates in {root}: {exc}") from None
    return {"dir": str(root), "cas": cas, "certificates": certs}


@app.command("show")
@one_line_errors
def show(work_dir: WorkDirOpt = Path(".dcos-py"), json: JsonOpt = False) -> None:
    """Show the cluster CA (subject, fingerprint, expiry) and the certificates it issued."""
    doc = describe_dir(security_root(work_dir))
    if json:
        print_json(doc)
        return
    out = console()
    for i, c in enumerate(doc["cas"]):
        label = "CA" if i == 0 else "previous CA (still trusted)"
        out.print(f"{label}: {c['subject']}", markup=False, highlight=False)
        out.print(f"  SHA-256 fingerprint: {c['fingerprint_sha256']}", markup=False,
                  highlight=False)
        out.print(f"  valid until: {c['not_after']}", markup=False, highlight=False)
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for column in ("NAME", "KIND", "ISSUER", "EXPIRES", "HOSTS"):
        table.add_column(column, overflow="fold")
    for c in doc["certificates"]:
        table.add_row(c["name"], c["kind"], c["issuer"], c["not_after"], ", ".join(c["hosts"]))
    out.print(table)


@app.command("rotate")
@one_line_errors
def rotate(work_dir: WorkDirOpt = Path(".dcos-py"),
           grace: Annotated[float, typer.Option(
               "--grace", help="Seconds between trusting the new CA and presenting "
               "certificates it signed (more than the components' 2 s reload poll).")] = GRACE_S,
           json: JsonOpt = False) -> None:
    """Replace the cluster CA and re-issue every certificate while the cluster runs; the
    components reload them (no restart, tasks keep running)."""
    from dcos.security import layout

    root = security_root(work_dir)
    try:
        names = layout.rotate(root, grace_s=max(0.0, grace))
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot rotate the CA in {root}: {exc}") from None
    doc = describe_dir(root)
    if json:
        print_json({"reissued": names, "ca": doc["cas"][0]})
        return
    console().print(f"new CA {doc['cas'][0]['subject']} (SHA-256 "
                    f"{doc['cas'][0]['fingerprint_sha256']}); re-issued {len(names)} "
                    f"certificate(s): {', '.join(names)}; the components reload them within "
                    "a few seconds", markup=False, highlight=False)
