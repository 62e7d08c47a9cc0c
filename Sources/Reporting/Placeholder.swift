import Profiling
