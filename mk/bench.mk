# The micro view of the benchmarks: instructions per malloc/free pair under callgrind, for brisk
# and each peer (bench/micro.sh; `make bench` runs it too, unless MICRO=0).
.PHONY: bench-micro
bench-micro: all
	bash bench/micro.sh
