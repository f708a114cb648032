package flinkop.jobs;

import org.apache.flink.api.common.RuntimeExecutionMode;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.connector.datagen.source.GeneratorFunction;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;

/**
 * What the sandbox jobs share: the options they understand, a deterministic source and a sink.
 *
 * <p>The source is the FLIP-27 {@link DataGeneratorSource} shipped inside flink-dist of both 1.20 and 2.x
 * (the legacy SourceFunction is gone in 2.x). It emits 0, 1, 2, ... at a fixed total rate and keeps its read
 * position in its split state, so a restore from a savepoint continues the sequence instead of restarting it.
 */
public final class SandboxJobs {
    /** Options every sandbox job accepts. */
    public static final String[] COMMON_OPTIONS = {
        "keys", "rate", "print-every", "job-name", "checkpoint-interval", "parallelism"
    };

    private SandboxJobs() {}

    /** A streaming environment configured from the common options. */
    public static StreamExecutionEnvironment environment(JobArgs args) {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        // The generator reports itself as bounded; force STREAMING so "automatic" mode never picks BATCH.
        env.setRuntimeMode(RuntimeExecutionMode.STREAMING);
        long interval = args.getLong("checkpoint-interval", 0);
        if (interval > 0) {
            env.enableCheckpointing(interval);
        }
        int parallelism = args.getInt("parallelism", 0);
        if (parallelism > 0) {
            env.setParallelism(parallelism);
        }
        return env;
    }

    /** 0, 1, 2, ... at {@code --rate} records per second in total; effectively endless. */
    public static DataStream<Long> sequence(StreamExecutionEnvironment env, JobArgs args) {
        double rate = args.getDouble("rate", 5);
        GeneratorFunction<Long, Long> identity = index -> index;
        DataGeneratorSource<Long> source = new DataGeneratorSource<>(
                identity, Long.MAX_VALUE, RateLimiterStrategy.perSecond(rate), Types.LONG);
        return env.fromSource(source, WatermarkStrategy.noWatermarks(), "flinkop-sequence")
                .uid("flinkop-sequence");
    }

    /** Ends a pipeline: the jobs report through stdout, so their output records are dropped. */
    public static <T> void discard(DataStream<T> stream) {
        stream.sinkTo(new DiscardingSink<>()).uid("flinkop-discard").name("flinkop-discard");
    }
}
