package flinkrest;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.connector.datagen.source.GeneratorFunction;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;

/**
 * The REST client tests' job: counts records per key in keyed state, forever.
 *
 * <p>Options: {@code --rate 20} records/s, {@code --keys 4}, {@code --fail-after N} (throw once a key
 * has seen N records, so the job fails), {@code --job-name NAME}.
 */
public final class TestJob {
    private TestJob() {}

    public static void main(String[] args) throws Exception {
        double rate = 20;
        int keys = 4;
        long failAfter = -1;
        String jobName = "flinkrest-test-job";
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--rate": rate = Double.parseDouble(args[i + 1]); break;
                case "--keys": keys = Integer.parseInt(args[i + 1]); break;
                case "--fail-after": failAfter = Long.parseLong(args[i + 1]); break;
                case "--job-name": jobName = args[i + 1]; break;
                default: throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        final int nKeys = keys;
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        GeneratorFunction<Long, Long> generator = index -> index;
        DataGeneratorSource<Long> source = new DataGeneratorSource<>(
                generator, Long.MAX_VALUE, RateLimiterStrategy.perSecond(rate), Types.LONG);
        env.fromSource(source, WatermarkStrategy.noWatermarks(), "numbers")
                .uid("numbers")
                .keyBy(v -> (int) (v % nKeys), Types.INT)
                .process(new Counter(failAfter))
                .uid("counter")
                .name("counter")
                .print()
                .uid("print")
                .name("print");
        env.execute(jobName);
    }

    static final class Counter extends KeyedProcessFunction<Integer, Long, String> {
        private static final long serialVersionUID = 1L;
        private final long failAfter;
        private transient ValueState<Long> count;

        Counter(long failAfter) {
            this.failAfter = failAfter;
        }

        @Override
        public void open(OpenContext context) {
            count = getRuntimeContext().getState(new ValueStateDescriptor<>("count", Types.LONG));
        }

        @Override
        public void processElement(Long value, Context ctx, Collector<String> out) throws Exception {
            Long previous = count.value();
            long next = (previous == null ? 0L : previous) + 1;
            count.update(next);
            if (failAfter > 0 && next >= failAfter) {
                throw new IllegalStateException("flinkrest: failing on purpose at count " + next);
            }
            if (next % 50 == 0) {
                out.collect("key=" + ctx.getCurrentKey() + " count=" + next);
            }
        }
    }
}
