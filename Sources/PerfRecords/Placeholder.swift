import PerfEvents
