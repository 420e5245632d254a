// The logits benchmarks (bench_logits.cpp), registered by kldiv_bench's main.
#pragma once

#include <vector>

void register_logits_benchmarks(const std::vector<int>& thread_counts);
