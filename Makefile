# Set up a virtual environment from nothing and run the tests, benchmarks and checks.
# Data locations are configuration: NBCAP_DATA (datasets + ground truth) and NBCAP_CACHE (decoded caches).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# A CPU build of torch that installs from local disk on the project's machines; override for a GPU build.
TORCH_SPEC ?= torch==2.13.0
# The team's machines keep the data beside the checkout; anywhere else the repository's data/ folder.
NBCAP_DATA ?= $(if $(wildcard ../shared/cifar10),$(abspath ../shared),$(abspath data))
NBCAP_CACHE ?= $(abspath .cache)
export NBCAP_DATA NBCAP_CACHE

.PHONY: setup data lint test test-all gpu-data demo figures bench baselines results-pages space-reference standard-reference few-shot search-results beta-study check-params clean

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

setup: $(VENV)/.installed

# CIFAR-10 from its official location into $(NBCAP_DATA)/cifar10 (checksum verified) unless a copy is
# already there, then decoded into the cache once.
data: setup
	$(BIN)/nbcap data --download

# Formatting, lint and types first (seconds), then the test suite.
lint: setup
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

# The test suite without its slow tests (a Ray cluster, long kill-and-resume runs): a few minutes.
test: lint data
	$(BIN)/python -m pytest -q -m "not slow"

# Everything, the slow tests included: what CI runs.
test-all: lint data
	$(BIN)/python -m pytest -q

# The data a GPU machine needs, in the ignored .gpu/ folder that travels with the checkout (about
# 26 MB); then on that machine: scripts/gpu_check.sh OUT (docs/gpu_and_ray.md).
gpu-data:
	mkdir -p .gpu/cifar10 .gpu/nb201
	cp $(NBCAP_DATA)/cifar10/cifar10-jpeg.tar.gz .gpu/cifar10/
	cp $(NBCAP_DATA)/nb201/nb201_merged.csv .gpu/nb201/

demo: data
	$(BIN)/nbcap run --preset quick --out out/quick

# The quick preset's figures and summary for docs/results/presets.md, from the demo's study (runs it
# first if needed; a finished one only re-reports).
figures: demo
	cp out/quick/tau_vs_epoch.png figures/quick_tau_vs_epoch.png
	cp out/quick/tau_training_free.png figures/quick_tau_training_free.png
	cp out/quick/correlations.csv docs/results/data/quick_correlations.csv

# docs/results/*.md from the committed summaries in docs/results/data/ (each page names the commands
# that regenerate its summaries; the test suite checks that the pages match them).
results-pages: setup
	$(BIN)/python experiments/results_pages.py

bench: setup
	$(BIN)/python benchmarks/bench_data.py
	$(BIN)/python benchmarks/bench_kernel.py
	$(BIN)/python benchmarks/bench_train.py

# The baselines against NASLib's reference scores (docs/results/baselines.md), and every predictor's
# cost at the quick preset.
baselines: setup
	$(BIN)/python experiments/proxies_vs_naslib.py --cells 60 --summary docs/results/data/baselines_vs_naslib.csv
	$(BIN)/python benchmarks/bench_cost.py --preset quick --archs 6

# The shipped whole-space table (every training-free metric, all 15,625 cells, quick preset): about 1 h on 2 cores.
# The shipped quick table: the 2021 proxies and β_init on every cell (one per isomorphism class where a
# metric allows; 32 min with 2 workers), today's cheap proxies on every cell, the costly ones on the
# 1,000-cell sample nbcap compare uses (TE-NAS's NTK on its 200-cell prefix). Each command adds columns
# to the same folder and resumes after an interruption.
NEW_CHEAP = zico,meco,az_expressivity,az_progressivity,az_trainability,te_linear_regions
space-reference: setup
	$(BIN)/nbcap space --preset quick --iso-copy --workers 2 --out out/space \
	    --metrics params,flops,grad_norm,snip,plain,grasp,fisher,jacob_cov,epe_nas,nwot,beta_init,synflow,zen,l2_norm
	$(BIN)/nbcap space --preset quick --iso-copy --workers 2 --out out/space --metrics $(NEW_CHEAP)
	$(BIN)/nbcap space --preset quick --iso-copy --workers 2 --out out/space --sample 1000 --metrics swap,swap_reg,vkdnw_entropy,vkdnw
	$(BIN)/nbcap space --preset quick --iso-copy --workers 2 --out out/space --sample 200 --metrics te_ntk
	gzip -9 -n -c out/space/space.csv > nasbench_capacitance/whole_space/reference/nb201_space_quick.csv.gz
	$(BIN)/python experiments/whole_space_table.py --out docs/results/data --figures figures

# The shipped standard table (docs/results/standard.md): every training-free metric at NB201's own network on a
# seeded sample of 1,000 cells, TE-NAS's NTK on its first 48, four proxies again at batch 128 on the first 64 (about
# 1.5 h on 2 idle cores; resumable), and its summaries.
STANDARD_METRICS = params,flops,grad_norm,snip,plain,grasp,fisher,jacob_cov,epe_nas,nwot,beta_init,synflow,zen,l2_norm,$(NEW_CHEAP),swap,swap_reg,vkdnw_entropy,vkdnw
standard-reference: setup
	$(BIN)/nbcap space --preset standard --sample 1000 --workers 2 --set run.threads=1 --no-figures --out out/standard --metrics $(STANDARD_METRICS)
	$(BIN)/nbcap space --preset standard --sample 48 --workers 2 --set run.threads=1 --no-figures --out out/standard --metrics te_ntk
	$(BIN)/nbcap space --preset standard --set proxies.batch_size=128 --sample 64 --set run.threads=1 --no-figures --out out/standard-b128 --metrics nwot,zico,meco,jacob_cov
	gzip -9 -n -c out/standard/space.csv > nasbench_capacitance/whole_space/reference/nb201_space_standard.csv.gz
	$(BIN)/python experiments/standard_table.py --out docs/results/data --batch128 out/standard-b128/space.csv

# The few-shot predictor's model choice, curve and ablation (docs/results/few_shot.md), from the shipped table.
few-shot: setup
	$(BIN)/python experiments/few_shot_curve.py --choose
	$(BIN)/python experiments/few_shot_curve.py

# The search results (docs/results/search.md; 46 min on 2 cores shared with other jobs). Reported seeds start at 1000: every
# choice (proxies, warm-up sizes) was made on seeds 0-99. The last command of each folder draws its figure.
SEARCH = $(BIN)/nbcap search --seeds 200 --first-seed 1000
C10_BUDGETS = --budget 1000,3000,12000,20000
EVALUATIONS = --budget 9,27,109,182
search-results: setup
	$(BIN)/python experiments/search_vs_published.py --seeds 500 --out docs/results/data/search_vs_published.csv
	$(SEARCH) --algorithm warmup,moves --proxy nwot,jacob_cov,synflow,beta_init $(C10_BUDGETS) --out out/search
	$(SEARCH) --algorithm proxy --proxy nwot,jacob_cov,synflow,beta_init --param cells=10,100 $(C10_BUDGETS) --out out/search
	$(SEARCH) --algorithm proxy --proxy nwot,jacob_cov,synflow,beta_init --param cells=3000 --param top_k=10 $(C10_BUDGETS) --out out/search
	$(SEARCH) --algorithm predictor $(C10_BUDGETS) --out out/search
	$(SEARCH) --algorithm predictor --proxy nwot,jacob_cov,synflow,beta_init --param warmup=0,15625 $(C10_BUDGETS) --out out/search
	$(SEARCH) --algorithm random,rea,warmup,predictor --proxy synflow --param warmup=3000,15625 $(C10_BUDGETS) --out out/search
	$(SEARCH) --algorithm random,rea,warmup,predictor --proxy synflow --param warmup=3000,15625 --dataset cifar100 $(EVALUATIONS) --out out/search-c100
	$(SEARCH) --algorithm random,rea,warmup,predictor --proxy synflow --param warmup=3000,15625 --dataset ImageNet16-120 $(EVALUATIONS) --out out/search-in16
	$(SEARCH) --algorithm warmup,moves --proxy meco,az_nas $(C10_BUDGETS) --out out/search
	$(SEARCH) --algorithm warmup --proxy meco,az_nas --param warmup=3000,15625 --dataset cifar100 $(EVALUATIONS) --out out/search-c100
	$(SEARCH) --algorithm warmup --proxy meco,az_nas --param warmup=3000,15625 --dataset ImageNet16-120 $(EVALUATIONS) --out out/search-in16
	$(SEARCH) --algorithm few_shot $(C10_BUDGETS) --out out/search
	$(SEARCH) --algorithm few_shot --dataset cifar100 $(EVALUATIONS) --out out/search-c100
	$(SEARCH) --algorithm few_shot --dataset ImageNet16-120 $(EVALUATIONS) --out out/search-in16
	cp out/search/search_cifar10.png figures/search_cifar10.png
	cp out/search/summary.csv docs/results/data/search_cifar10.csv
	cp out/search-c100/summary.csv docs/results/data/search_cifar100.csv
	cp out/search-in16/summary.csv docs/results/data/search_imagenet16.csv

# The β_eff study (docs/results/beta_study.md): β at initialisation on the held-out cells
# with its ablation (about 40 min on 1 core), the 300-cell trained study at N=3 with its ablation
# (about 1.5 h on 2 cores; resumable: run again after an interruption), β in the first SGD steps on
# the same cells (one epoch with a snapshot every 20 steps, about 40 min on 2 cores), the development
# frontier so far, and its figure. More seeds are the resumable commands its page names.
beta-study: setup
	mkdir -p out/beta-init out/beta-study out/beta-early
	$(BIN)/python experiments/beta_at_init.py --sample dev --seeds 0,1,2 | tee out/beta-init/dev.txt
	$(BIN)/python experiments/beta_at_init.py --sample held-out --seeds 0,1,2 --ablation figures/beta_init_ablation.png | tee out/beta-init/held-out.txt
	$(BIN)/python experiments/beta_study.py --out out/beta-study --protocol n3 --workers 2 --threads 1 | tee out/beta-study/report.txt
	$(BIN)/python experiments/beta_study.py --out out/beta-early --protocol n3_e1_snap20 --workers 2 --threads 1 --figures out/beta-early/figures | tee out/beta-early/report.txt
	$(BIN)/python experiments/fidelity_frontier.py --out out/frontier --report-only --figure figures/fidelity_frontier.png

check-params: setup
	$(BIN)/python scripts/check_params.py

clean:
	rm -rf $(VENV) .cache .pytest_cache *.egg-info
