# vohub developer entry points. `make run` and `make test` each install what they need first.
.PHONY: install protos run test lint bench system-packages

UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
PY := .venv/bin/python
# Bytecode is compiled at install: where PYTHONDONTWRITEBYTECODE is set (many container images),
# nothing else would ever cache it, and every process would compile its imports from source.

install: system-packages
	@command -v uv >/dev/null 2>&1 || test -x $(UV) || python3 -m pip install --user --quiet uv \
		|| python3 -m pip install --user --quiet --break-system-packages uv
	$(UV) sync --all-packages --locked --quiet --compile-bytecode
	$(PY) scripts/gen_protos.py >/dev/null 2>&1 || $(PY) scripts/gen_protos.py
	$(PY) -m compileall -q -j 0 libs services clients src protos tests bench
	scripts/install-peers

system-packages:
	scripts/install-system-packages

protos: install

run: install
	.venv/bin/vohub up

test: install
	.venv/bin/pytest

lint: install
	git diff --exit-code -- protos/ || (echo "generated protobuf code is stale: commit the output of make protos" && exit 1)
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	scripts/check-module-size
	scripts/check-docstrings

bench: install
	scripts/install-system-packages bench
	$(PY) bench/run.py
