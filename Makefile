# The two commands of the README, plus the benchmark. Each sets itself up (.venv) first.
.PHONY: demo test bench docs clean

demo:            ## generate demo data if missing, dbt build, export Parquet, print a summary
	@scripts/demo.sh

test:            ## pytest + dbt build on simulated dirty data + planted-truth checks
	@scripts/test.sh

SCALE ?= 1000000
bench:           ## time and measure each stage at SCALE customers (report in bench/results/)
	@scripts/bench.sh $(SCALE)

docs:            ## static dbt docs site with lineage and exposures (target/static_index.html)
	@scripts/docs.sh

clean:
	rm -rf .venv build target logs warehouse exports reports data/raw bench/results
