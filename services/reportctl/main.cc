// reportctl: the command line for people and scripts, against every
// govreport service. The dispatch lives in the library (dispatch.cc) so
// tests run the same code.
#include "reportctl/cli.h"

int main(int argc, char** argv) { return govreport::cli::Main(argc, argv); }
