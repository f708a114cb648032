"""Everything flinkop knows about Apache Flink itself: talking to a cluster's REST API and its config."""
