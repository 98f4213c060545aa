"""Apache Airflow provider for Huawei Cloud DataArts Studio (DataArts Quality and DataArts Factory)."""

__version__ = "0.2.0"
