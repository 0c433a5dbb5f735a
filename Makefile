PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install browser run test faults lint format migrate seed bench clean demo

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) browser

# The console's browser tests drive Debian's chromium (browsers cannot be downloaded here),
# with a CJK font so screenshots show Chinese; installed when missing and running as root.
BROWSER_PACKAGES := chromium fonts-wqy-microhei
browser:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list :lang=zh 2>/dev/null | grep -q .; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get install -y -q $(BROWSER_PACKAGES) || \
				{ apt-get update -q && apt-get install -y -q $(BROWSER_PACKAGES); }; \
		else \
			echo "*** chromium or a CJK font is missing: apt-get install $(BROWSER_PACKAGES) ***"; \
		fi; \
	fi

run: install
	@$(BIN)/parking console-info
	$(BIN)/parking migrate
	$(BIN)/parking seed-demo --if-empty
	PARKING_WECHAT_SANDBOX=$${PARKING_WECHAT_SANDBOX:-true} $(BIN)/parking serve

# The demo city with traffic: serve as `make run` does, and drive it with a simulated day
# (`parking simulate`, SEED and SPEED: times real time). Ctrl-C stops both.
demo: install
	@$(BIN)/parking console-info
	$(BIN)/parking migrate
	$(BIN)/parking seed-demo --if-empty
	PARKING_WECHAT_SANDBOX=$${PARKING_WECHAT_SANDBOX:-true} $(BIN)/parking serve & server=$$!; \
	trap 'kill $$server' EXIT INT TERM; \
	url=http://$${PARKING_HOST:-127.0.0.1}:$${PARKING_PORT:-8080}; \
	for i in $$(seq 100); do curl -sf $$url/healthz >/dev/null && break; sleep 0.2; done; \
	$(BIN)/parking simulate --url $$url --seed $${SEED:-1} --speed $${SPEED:-600}; \
	wait $$server

test: install
	$(BIN)/pytest -q

# The fault suite alone (it is part of `make test` too), printing the run's figures.
faults: install
	$(BIN)/pytest -q -s -p no:randomly tests/faults

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrate: install
	$(BIN)/parking migrate

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var/*.db
