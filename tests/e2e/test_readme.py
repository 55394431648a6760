"""The README's walkthrough, pasted into a shell as a newcomer would, against a real serve."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from tests.support.processes import EXECUTABLE, Stack

README = (Path(__file__).parents[2] / "README.md").read_text()
ADMIN_PASS = "change-me-please"


def try_it_blocks() -> list[str]:
    """The shell blocks of the README's "Try it" section, in order."""
    section = README.split("## Try it", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)


def test_the_readme_starts_the_service_with_the_admin_the_walkthrough_uses() -> None:
    assert f"ADMIN_USERNAME=admin ADMIN_PASS={ADMIN_PASS} scripts/serve" in README
    assert "    scripts/test\n" in README
    assert len(try_it_blocks()) >= 3


async def test_the_try_it_blocks_run_as_written(stack: Stack, tmp_path: Path) -> None:
    stack.env |= {"ADMIN_USERNAME": "admin", "ADMIN_PASS": ADMIN_PASS}
    base = await stack.serve("--no-relay")
    script = "set -euo pipefail\n" + "\n".join(try_it_blocks())
    script = script.replace("localhost:3000", base.removeprefix("http://"))
    script = script.replace(".venv/bin/oauth-apps", EXECUTABLE)
    (tmp_path / "try_it.sh").write_text(script)
    process = await asyncio.create_subprocess_exec(
        "bash",
        str(tmp_path / "try_it.sh"),
        env=stack.env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    output = out.decode()
    assert process.returncode == 0, (output, err.decode())
    lines = [line for line in output.splitlines() if line.startswith(("{", "true"))]
    assert lines[0].startswith('{"status":"success"')  # the login
    assert '"clientSecret"' in output and '"oauthApps"' in output and '"renamed"' in output
    assert "true" in lines  # the delete
    assert not any('"success":false' in line for line in lines), output
    assert len(lines) == 8, output  # login, create, list, get, update, rotate, delete, once
