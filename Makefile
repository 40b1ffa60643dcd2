# The two commands of the quick start (`make demo`, `make test`) install everything they need.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
export UV_COMPILE_BYTECODE := 1
export PATH := $(HOME)/.local/bin:$(PATH)
PRESAVE_TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
export PRESAVE_TEST_POSTGRES_URL

.PHONY: demo test lint format bench install services clean image image-check

install:
	@scripts/bootstrap

demo: install
	uv run --frozen presave demo

test: install services
	uv run --frozen pytest -n 2

services:
	@scripts/test-services

lint: install
	uv run --frozen ruff check .
	uv run --frozen ruff format --check .
	uv run --frozen mypy

format: install
	uv run --frozen ruff check --fix .
	uv run --frozen ruff format .

# the presave image (Containerfile) with buildah on a debootstrapped Debian base; image-check runs it
image:
	@scripts/image

image-check: image
	@scripts/image-check

bench: install
	uv run --frozen python -m bench $(BENCH)

clean:
	rm -rf .venv .pytest_cache .ruff_cache .mypy_cache test-artefacts
