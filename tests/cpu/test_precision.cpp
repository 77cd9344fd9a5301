// The process-wide GPU numerics settings: parsing, names, scoped overrides.
#include "engine/precision.h"
#include "tests/testing.h"

using namespace ember;

TEST_CASE("precision parses, names and restores", "[precision]") {
  CHECK(precision() == Precision::fp32);
  CHECK(deterministic_algorithms());
  for (Precision p : {Precision::fp32, Precision::tf32, Precision::bf16})
    CHECK(parse_precision(precision_name(p)) == p);
  CHECK_THROWS_WITH(parse_precision("fp16"), Catch::Contains("'fp16'") && Catch::Contains("tf32"));
  {
    PrecisionGuard guard(Precision::bf16);
    CHECK(precision() == Precision::bf16);
  }
  CHECK(precision() == Precision::fp32);
}
