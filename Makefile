# GNU make 4.3. Everything runs from the project venv in .venv/.
#   make run [ARGS="--port 8000 --async-mode threading"]
#   make test [PYTEST_ARGS="-k foo -m 'not browser'"]
#   make lint | make bench | make clean

PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
PIP := $(VPY) -m pip --disable-pip-version-check
CHROMIUM := /usr/bin/chromium
REDIS_SERVER := /usr/bin/redis-server
NGINX := /usr/sbin/nginx
ARGS ?=
PYTEST_ARGS ?=

.PHONY: all run test lint bench clean venv chromium

all: test

venv: $(VPY)

$(VPY):
	$(PYTHON) -m venv $(VENV)

# Stamps: reinstall only when the requirement files change.
$(VENV)/.stamp-run: requirements.txt | $(VPY)
	$(PIP) install -q -r requirements.txt
	touch $@

$(VENV)/.stamp-dev: requirements-dev.txt requirements.txt | $(VPY)
	$(PIP) install -q -r requirements-dev.txt
	touch $@

# Playwright drives Debian's Chromium (never `playwright install`: no browser downloads here).
# The rooms' scale-out tests start Debian's redis-server (tests/test_server_redis.py), and
# the documented nginx configuration runs with Debian's nginx (tests/test_deploy_nginx.py).
chromium:
	@if [ ! -x $(CHROMIUM) ] || [ ! -x $(REDIS_SERVER) ] || [ ! -x $(NGINX) ]; then \
	  if [ "$$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  echo "installing Debian chromium, redis-server and nginx"; \
	  $$SUDO apt-get update && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y \
	    -o DPkg::Lock::Timeout=600 chromium redis-server nginx; \
	fi

run: $(VENV)/.stamp-run
	$(VPY) app.py $(ARGS)

lint: $(VENV)/.stamp-dev
	$(VENV)/bin/ruff check .

test: $(VENV)/.stamp-dev chromium
	$(VENV)/bin/ruff check .
	$(VPY) -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.stamp-dev
	$(VPY) -m bench $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis test-artifacts
	find . -path ./.git -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
