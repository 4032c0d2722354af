"""The per-run result record: column names, types and the schema version.

Plain Python (no pyarrow) so the job side can use it in any container; gather builds the
Arrow schema from ``COLUMNS``. Documented in docs/result-schema.md and docs/internals.md.
A new column is a new schema version; readers keep accepting the older ones.
"""

SCHEMA_VERSION = 3
# Version 2 adds: the workload's kind, task and variant options, its metrics map and
# primary metric (user workloads); the Keras backend and framework versions; the CPUs and
# thread pools the process really saw (host and visible logical CPUs, cgroup quota, the
# effective TensorFlow pools, the execute node's thread variables, oneDNN and XLA).
# Version 3 adds: the installed Python distributions (name -> version, job/distributions.py).

# (name, type) with type one of: "int", "float", "str", "bool". Every column is nullable.
COLUMNS = [
    ("schema_version", "int"),
    ("study_id", "str"),
    ("study_name", "str"),
    ("run_id", "str"),
    ("workload", "str"),
    ("software_env", "str"),
    ("hardware_env", "str"),
    ("repeat", "int"),
    ("seed", "int"),
    ("status", "str"),
    ("error_type", "str"),
    ("error_message", "str"),
    ("epochs", "int"),
    ("batch_size", "int"),
    ("max_samples", "int"),
    ("determinism", "bool"),
    ("sample_data", "bool"),
    ("data_sha256", "str"),
    ("test_loss", "float"),
    ("test_accuracy", "float"),
    ("history_json", "str"),
    ("fraud_tp", "int"),
    ("fraud_fp", "int"),
    ("fraud_tn", "int"),
    ("fraud_fn", "int"),
    ("predictions_sha256", "str"),
    ("weights_sha256", "str"),
    ("time_data_load_s", "float"),
    ("time_train_s", "float"),
    ("time_eval_s", "float"),
    ("time_total_s", "float"),
    ("started_at", "str"),
    ("finished_at", "str"),
    ("cpu_vendor", "str"),
    ("cpu_model", "str"),
    ("cpu_family", "int"),
    ("cpu_model_number", "int"),
    ("cpu_flags", "str"),
    ("microarch", "str"),
    ("has_avx2", "bool"),
    ("has_avx512f", "bool"),
    ("cpu_count", "int"),
    ("gpu_count", "int"),
    ("gpu_name", "str"),
    ("gpu_uuid", "str"),
    ("gpu_driver", "str"),
    ("gpu_capability", "str"),
    ("gpu_memory_mb", "int"),
    ("python_version", "str"),
    ("tensorflow_version", "str"),
    ("tensorflow_compiler", "str"),
    ("keras_version", "str"),
    ("numpy_version", "str"),
    ("cuda_version", "str"),
    ("cudnn_version", "str"),
    ("env_cuda_version", "str"),
    ("env_cudnn_version", "str"),
    ("nvidia_tensorflow_version", "str"),
    ("os_name", "str"),
    ("kernel", "str"),
    ("container_image", "str"),
    ("container_runtime", "str"),
    ("condor_cluster_id", "int"),
    ("condor_proc_id", "int"),
    ("glidein_site", "str"),
    ("glidein_resource", "str"),
    ("machine_name", "str"),
    ("tf_enable_onednn_opts", "str"),
    ("tf_deterministic_ops", "str"),
    ("omp_num_threads", "str"),
    ("intra_op_threads", "int"),
    ("inter_op_threads", "int"),
    ("fingerprint_json", "str"),
    # --- version 2: what the job really saw (filled by the fingerprint)
    ("keras_backend", "str"),
    ("jax_version", "str"),  # the framework that ran the model; installed ones: fingerprint_json
    ("torch_version", "str"),
    ("cpu_logical_count", "int"),
    ("cpu_affinity_count", "int"),
    ("cpu_quota", "float"),
    ("intra_op_pool", "int"),
    ("inter_op_pool", "int"),
    ("thread_env_json", "str"),
    ("onednn_enabled", "bool"),
    ("xla_jit", "str"),
    # --- version 2: the workload and its metrics (user workloads and built-in variants)
    ("workload_kind", "str"),
    ("task", "str"),
    ("variant_json", "str"),
    ("metrics_json", "str"),
    ("primary_metric", "str"),
    ("primary_value", "float"),
    ("higher_is_better", "bool"),
    # --- version 3: what was installed (JSON map normalised name -> version, sorted, bounded)
    ("distributions_json", "str"),
]

# --- columns by role: what the analysis reads each as (it lists no column of its own)

#: The metrics a record may carry as columns (every built-in run has the first two).
METRIC_COLUMNS = ("test_accuracy", "test_loss", "fraud_tp", "fraud_fp", "fraud_tn", "fraud_fn")
#: Every fingerprint attribute that describes an environment (what an explanation of
#: outcome groups may use). Identifiers of one host or run (machine name, GPU UUID, HTCondor
#: ids) and the raw fingerprint JSON are not attributes of an environment.
ENVIRONMENT_ATTRIBUTES = (
    "cpu_vendor", "cpu_model", "cpu_family", "cpu_model_number", "cpu_flags", "microarch", "has_avx2",
    "has_avx512f", "cpu_count", "cpu_logical_count", "cpu_affinity_count", "cpu_quota", "gpu_count", "gpu_name",
    "gpu_driver", "gpu_capability", "gpu_memory_mb", "python_version", "tensorflow_version", "tensorflow_compiler",
    "keras_version", "keras_backend", "jax_version", "torch_version", "numpy_version", "cuda_version",
    "cudnn_version", "env_cuda_version", "env_cudnn_version", "nvidia_tensorflow_version", "os_name", "kernel",
    "container_runtime", "glidein_site", "glidein_resource", "tf_enable_onednn_opts", "tf_deterministic_ops",
    "omp_num_threads", "intra_op_threads", "inter_op_threads", "intra_op_pool", "inter_op_pool",
    "thread_env_json", "onednn_enabled", "xla_jit", "software_env",
)
#: Where a run ran, not how: names of a site or an execute point (they follow the machine).
LOCATION_ATTRIBUTES = ("glidein_site", "glidein_resource")
#: What makes two runs "the same environment" beyond the requested labels: the machine,
#: the CPUs and thread pools the process really had, and the software stack it really ran.
OBSERVED_ENVIRONMENT = (
    "cpu_model", "gpu_name", "cpu_logical_count", "cpu_affinity_count", "cpu_quota", "intra_op_pool",
    "inter_op_pool", "thread_env_json", "omp_num_threads", "onednn_enabled", "xla_jit", "keras_backend",
    "tensorflow_version", "keras_version", "jax_version", "torch_version", "numpy_version", "python_version",
    "cuda_version", "cudnn_version", "env_cuda_version", "env_cudnn_version", "nvidia_tensorflow_version",
)
#: Identity and outcome columns the analysis keeps besides the roles above.
ANALYSIS_IDENTITY = (
    "run_id", "study_id", "study_name", "workload", "software_env", "hardware_env", "repeat", "seed", "status",
    "error_type", "error_message", "sample_data", "determinism", "predictions_sha256", "gpu_count", "machine_name",
    "fingerprint_json", "primary_metric", "primary_value", "higher_is_better", "metrics_json", "task",
    "variant_json", "workload_kind",
)

COLUMN_NAMES = [name for name, _ in COLUMNS]
COLUMN_TYPES = dict(COLUMNS)
STATUS_OK = "ok"
STATUS_FAILED = "failed"
