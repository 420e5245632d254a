// The logits part of the fuzz target (fuzz_logits.cpp), called by fuzz_c_abi.cpp.
#pragma once

#include <fuzzer/FuzzedDataProvider.h>

void fuzz_logits(FuzzedDataProvider& in);
