"""The Raspberry Pi / Debian 12 install (deploy/raspi).

Always on (fast): shellcheck on every script, `systemd-analyze verify` of the units with
their program paths faked, and the lines that make the services restart for ever, stay
hardened and reach the data and the archive stick. Marked ``deploy`` (slow, root,
network: EZH_DEPLOY_TEST=1): the real install in a throw-away Debian root
(deploy/raspi/test-in-chroot.sh), the installed root booted (test-boot.sh) and the box
reached at http://ezh.local/ from a second machine on a virtual LAN, also after a
reboot (test-lan.sh).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RASPI = ROOT / "deploy" / "raspi"
SCRIPTS = sorted(RASPI.glob("*.sh"))
SERVICES = ("ezh-web.service", "ezh-worker.service")
UNITS = (
    *SERVICES,
    "ezh-watchdog.service",
    "ezh-watchdog.timer",
    "ezh-archive-mount.service",
    "ezh-tls-renew.service",
    "ezh-tls-renew.timer",
)
deploy = pytest.mark.deploy  # registered in pyproject.toml

HARDENING = (
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    "PrivateTmp=yes",
    "ProtectHome=yes",
    "PrivateDevices=yes",
    "RestrictSUIDSGID=yes",
)


def unit_lines(name: str) -> list[str]:
    """The unit's settings, comments dropped (a commented-out line must not count)."""
    text = (RASPI / name).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()[:1] not in ("", "#", ";")]


def setting(name: str, key: str) -> list[str]:
    return [line.split("=", 1)[1] for line in unit_lines(name) if line.startswith(f"{key}=")]


def system_files() -> dict[str, str]:
    """common.sh's SYSTEM_FILES: source name → installed path (install.sh and upgrade.sh)."""
    text = (RASPI / "common.sh").read_text(encoding="utf-8")
    block = text.split("SYSTEM_FILES=(", 1)[1].split(")", 1)[0]
    rows = [line.strip().strip('"').split() for line in block.splitlines() if '"' in line]
    return {name: target for name, _mode, target in rows}


def test_every_file_install_sh_copies_exists():
    text = (RASPI / "install.sh").read_text(encoding="utf-8")
    named = set(re.findall(r'"\$HERE/([\w.-]+)"', text)) | set(system_files())
    assert {"ezh-web.service", "watchdog.sh", "ezh-wrapper.sh", "make-cert.sh"} <= named
    for name in named:
        assert (RASPI / name).is_file(), name


def test_upgrade_refreshes_the_same_system_files_and_restores_them():
    files = system_files()
    assert files["tls-setup.sh"] == "/usr/local/lib/ezh/tls-setup.sh"  # offline renewal
    assert files["ezh-worker.service"] == "/etc/systemd/system/ezh-worker.service"
    assert set(UNITS) <= set(files)
    upgrade = (RASPI / "upgrade.sh").read_text(encoding="utf-8")
    assert 'install_system_files "$HERE" "$SYSTEM_SAVED"' in upgrade
    assert 'restore_system_files "$SYSTEM_SAVED"' in upgrade
    assert 'install_system_files "$HERE"' in (RASPI / "install.sh").read_text(encoding="utf-8")


def test_an_interrupted_upgrade_rolls_back_and_keeps_what_was_written():
    upgrade = (RASPI / "upgrade.sh").read_text(encoding="utf-8")
    assert re.search(r"^trap .*rollback' INT TERM HUP$", upgrade, re.M)
    assert "flock -n 9" in upgrade  # the watchdog sees the upgrade at work
    assert "failed-upgrade-" in upgrade and "отложены в" in upgrade
    # the worker only after the web server answers
    body = upgrade.split("start_services() {", 1)[1].split("\n}\n", 1)[0]
    assert body.index("ezh-web.service") < body.index("wait_healthy") < body.index("ezh-worker")
    assert "wait_for_jobs" in upgrade.split("sctl stop", 1)[0]


def test_the_watchdog_respects_the_upgrade_lock_and_stuck_jobs():
    text = (RASPI / "watchdog.sh").read_text(encoding="utf-8")
    assert "/run/ezh-upgrade.lock" in text and 'flock -n "$UPGRADE_LOCK"' in text
    assert "JOB_STUCK_MINUTES=${EZH_WATCHDOG_JOB_STUCK_MIN:-180}" in text
    assert "STOPPED_SECONDS=${EZH_WATCHDOG_STOPPED:-300}" in text  # a hand stop is respected
    common = (RASPI / "common.sh").read_text(encoding="utf-8")
    assert "UPGRADE_LOCK=/run/ezh-upgrade.lock" in common


def test_install_sets_the_school_zone_and_keeps_the_name_on_a_rerun():
    text = (RASPI / "install.sh").read_text(encoding="utf-8")
    assert "--timezone" in text and "zone=Europe/Samara" in text
    assert "timedatectl set-timezone" in text and "systemd-timesyncd" in text
    assert "INSTALL_CONF" in text and "HOSTNAME_GIVEN == no" in text
    assert "systemctl restart avahi-daemon.service" in text
    assert "dosfstools" in text


def test_the_stick_mount_knows_its_file_systems():
    text = (RASPI / "archive-mount.sh").read_text(encoding="utf-8")
    assert "fstype=ntfs3" in text
    assert "ext2 | ext3 | ext4)" in text
    assert re.search(r"^\s+\*\)\n.*не подходит", text, re.M)


def test_the_wrapper_gives_ezh_its_own_home():
    text = (RASPI / "ezh-wrapper.sh").read_text(encoding="utf-8")
    assert "HOME=/var/lib/ezh" in text and 'HOME="$HOME"' in text


@pytest.mark.parametrize(
    ("name", "high", "top"),
    [
        ("ezh-web.service", "250M", "400M"),
        ("ezh-worker.service", "400M", "700M"),
    ],
)
def test_memory_is_capped_for_a_2_gb_pi(name, high, top):
    assert setting(name, "MemoryHigh") == [high]
    assert setting(name, "MemoryMax") == [top]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="нет openssl")
def test_the_box_ca_signs_only_for_the_school_network(tmp_path):
    env = {**os.environ, "EZH_TLS_NAME": "ezh", "EZH_TLS_IPS": "192.168.1.5 8.8.8.8"}
    subprocess.run(
        [str(RASPI / "make-cert.sh"), str(tmp_path)], env=env, check=True, capture_output=True
    )
    ca = subprocess.run(
        ["openssl", "x509", "-in", str(tmp_path / "ca.crt"), "-noout", "-text"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Name Constraints: critical" in ca and "DNS:local" in ca
    san = subprocess.run(
        ["openssl", "x509", "-in", str(tmp_path / "ezh.crt"), "-noout", "-ext", "subjectAltName"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "192.168.1.5" in san and "8.8.8.8" not in san
    verify = subprocess.run(
        ["openssl", "verify", "-CAfile", str(tmp_path / "ca.crt"), str(tmp_path / "ezh.crt")],
        capture_output=True,
        text=True,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    # a certificate the CA signs for another site does not verify
    other = tmp_path / "other"
    subprocess.run(
        [
            "openssl",
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            f"{other}.key",
            "-out",
            f"{other}.csr",
            "-subj",
            "/CN=mail.ru",
        ],
        check=True,
        capture_output=True,
    )
    (tmp_path / "other.ext").write_text("subjectAltName=DNS:mail.ru\n", encoding="utf-8")
    subprocess.run(
        [
            "openssl",
            "x509",
            "-req",
            "-in",
            f"{other}.csr",
            "-CA",
            str(tmp_path / "ca.crt"),
            "-CAkey",
            str(tmp_path / "ca.key"),
            "-CAcreateserial",
            "-days",
            "10",
            "-extfile",
            str(tmp_path / "other.ext"),
            "-out",
            f"{other}.crt",
        ],
        check=True,
        capture_output=True,
    )
    bad = subprocess.run(
        ["openssl", "verify", "-CAfile", str(tmp_path / "ca.crt"), f"{other}.crt"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0 and "permitted subtree violation" in bad.stdout + bad.stderr


def test_scripts_are_executable_and_strict():
    for script in SCRIPTS:
        text = script.read_text(encoding="utf-8")
        if script.name in ("common.sh", "test-root.sh"):  # sourced, never run
            continue
        assert os.access(script, os.X_OK), script.name
        if text.startswith("#!/bin/sh"):  # the three-line POSIX wrapper: nothing to fail
            continue
        assert re.search(r"^set -E?euo pipefail$", text, re.M), script.name


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck не установлен")
def test_shellcheck_clean():
    scripts = [str(p) for p in SCRIPTS]
    result = subprocess.run(
        ["shellcheck", "-x", *scripts], cwd=RASPI, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", SERVICES)
def test_service_restarts_for_ever(name):
    assert setting(name, "Restart") == ["always"]
    assert setting(name, "StartLimitIntervalSec") == ["0"]
    assert setting(name, "User") == ["ezh"]
    assert "multi-user.target" in setting(name, "WantedBy")


@pytest.mark.parametrize("name", SERVICES)
def test_service_is_hardened_and_reaches_data_and_stick(name):
    lines = unit_lines(name)
    for line in HARDENING:
        assert line in lines, line
    writable = " ".join(setting(name, "ReadWritePaths")).split()
    assert "/var/lib/ezh" in writable
    assert "-/media/ezh-archive" in writable  # "-": the stick may be out
    assert "EZH_MEDIA=/media/ezh-archive" in setting(name, "Environment")


def test_only_the_web_server_may_bind_port_80():
    assert "--port 80" in setting("ezh-web.service", "ExecStart")[0]
    assert setting("ezh-web.service", "AmbientCapabilities") == ["CAP_NET_BIND_SERVICE"]
    assert setting("ezh-web.service", "CapabilityBoundingSet") == ["CAP_NET_BIND_SERVICE"]
    assert setting("ezh-worker.service", "CapabilityBoundingSet") == [""]
    assert not setting("ezh-worker.service", "AmbientCapabilities")


def test_avahi_announces_the_port_the_server_listens_on():
    text = (RASPI / "ezh.avahi.service").read_text(encoding="utf-8")
    assert "<port>80</port>" in text
    assert "<type>_http._tcp</type>" in text


def test_journal_is_limited():
    text = (RASPI / "journald-ezh.conf").read_text(encoding="utf-8")
    assert re.search(r"^SystemMaxUse=\d+M$", text, re.M)


def test_stick_is_mounted_by_its_label():
    unit = "ezh-archive-mount.service"
    device = r"dev-disk-by\x2dlabel-EZH\x2dARCHIVE.device"
    assert setting(unit, "WantedBy") == [device]
    assert setting(unit, "BindsTo") == [device]
    script = (RASPI / "archive-mount.sh").read_text(encoding="utf-8")
    assert "EZH-ARCHIVE" in script and "/media/ezh-archive" in script


def fake_unit_dir(tmp_path: Path) -> Path:
    """The units with their programs replaced by /bin/true (not installed here)."""
    for name in UNITS:
        text = (RASPI / name).read_text(encoding="utf-8")
        text = text.replace("/opt/ezh/bin/ezh", "/bin/true")
        text = re.sub(r"/usr/local/lib/ezh/[\w-]+\.sh", "/bin/true", text)
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="нет systemd-analyze")
def test_units_pass_systemd_analyze_verify(tmp_path):
    folder = fake_unit_dir(tmp_path)
    result = subprocess.run(
        ["systemd-analyze", "verify", *(f"./{name}" for name in UNITS)],
        cwd=folder,
        capture_output=True,
        text=True,
        env={**os.environ, "SYSTEMD_LOG_LEVEL": "notice"},
    )
    # verify exits 0 on an unknown key or a bad value, only saying so: both must be empty.
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr


def test_readme_gives_the_address_the_units_serve():
    readme = (RASPI / "README.md").read_text(encoding="utf-8")
    assert "http://ezh.local/" in readme
    assert "ezh.local:8080" not in readme
    for words in ("EZH-ARCHIVE", "upgrade.sh", "uninstall.sh", "ezh doctor", "journalctl"):
        assert words in readme, words


def deploy_test_possible() -> str:
    """Why the real install cannot run here ("" when it can)."""
    if os.environ.get("EZH_DEPLOY_TEST") != "1":
        return "EZH_DEPLOY_TEST=1 не задан"
    if os.geteuid() != 0:
        return "нужен root"
    if shutil.which("debootstrap") is None:
        return "нет debootstrap"
    return ""


def run_deploy_script(script: str, root: Path, log: Path) -> str:
    """Run a deploy/raspi test script; its whole output goes to ``log``."""
    result = subprocess.run(
        [str(RASPI / script), str(root)], capture_output=True, text=True, timeout=3600
    )
    log.write_text(result.stdout + result.stderr, encoding="utf-8")
    assert result.returncode == 0, f"см. {log}:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith('{"ok": true'), last
    return last


@deploy
@pytest.mark.skipif(bool(deploy_test_possible()), reason=deploy_test_possible() or "-")
def test_install_in_a_debian_root(tmp_path):
    """install.sh in a fresh bookworm root: units verify, the installed ezh serves (also
    over HTTPS through nginx), a second install upgrades, a failed upgrade rolls back,
    uninstall keeps the data (minutes; needs Debian's mirror and PyPI)."""
    root = Path(os.environ.get("EZH_DEPLOY_ROOT", "/tmp/ezh-deb-root"))
    run_deploy_script("test-in-chroot.sh", root, tmp_path / "test-in-chroot.log")


@deploy
@pytest.mark.skipif(bool(deploy_test_possible()), reason=deploy_test_possible() or "-")
@pytest.mark.skipif(shutil.which("systemd-nspawn") is None, reason="нет systemd-nspawn")
def test_installed_box_boots_and_heals(tmp_path):
    """The installed root booted with systemd as PID 1: the hardened units serve on port
    80, a SIGKILLed server is back by itself, upgrade and rollback with live services."""
    root = Path(os.environ.get("EZH_BOOT_ROOT", "/tmp/ezh-boot-root"))
    run_deploy_script("test-boot.sh", root, tmp_path / "test-boot.log")


@deploy
@pytest.mark.skipif(bool(deploy_test_possible()), reason=deploy_test_possible() or "-")
@pytest.mark.skipif(shutil.which("systemd-nspawn") is None, reason="нет systemd-nspawn")
def test_box_answers_at_ezh_local_on_a_lan(tmp_path):
    """The installed box and a teacher's computer (nss-mdns, avahi) booted on one virtual
    LAN with nothing leaving the machine: ezh.local resolves to the box by mDNS only, its
    /healthz and Russian first page answer there, avahi announces "ЭЖ-box (ezh)" on port
    80, and after a power-off and a fresh boot it answers there again by itself."""
    root = Path(os.environ.get("EZH_LAN_ROOT", "/tmp/ezh-lan-root"))
    last = run_deploy_script("test-lan.sh", root, tmp_path / "test-lan.log")
    summary = json.loads(last)
    assert summary["reboot_to_ezh_local_s"] > 0
    assert summary["resolve_s"] <= summary["boot_to_ezh_local_s"]
