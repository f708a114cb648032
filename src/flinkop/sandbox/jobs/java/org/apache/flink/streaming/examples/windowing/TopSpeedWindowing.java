package org.apache.flink.streaming.examples.windowing;

import flinkop.jobs.JobArgs;
import flinkop.jobs.SandboxJobs;
import flinkop.jobs.StateReporter;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;

/**
 * The sandbox's own job behind {@code examples/streaming/TopSpeedWindowing.jar}.
 *
 * <p>It is not upstream's example; it only keeps its jar path and main class so deployments written for the
 * upstream image run unchanged. Each key is a car; record {@code i} is a speed reading (deterministic, 50..149
 * km/h) for car {@code i % keys}. Keyed ValueState holds the number of readings, the distance driven and the
 * top speed of the current "window" of 50 readings (a window closes every 50 readings, like upstream's
 * distance-based trigger). Every reading prints
 * {@code flinkop-state key=<car> count=<readings> speed=<s> topSpeed=<max in window> distance=<m> ...}.
 *
 * <p>Options: {@code --keys 2 --rate 5 --print-every 1 --job-name TopSpeedWindowing}.
 */
public final class TopSpeedWindowing {
    private static final int WINDOW = 50;

    private TopSpeedWindowing() {}

    public static void main(String[] argv) throws Exception {
        JobArgs args = JobArgs.parse(argv, SandboxJobs.COMMON_OPTIONS);
        int cars = Math.max(1, args.getInt("keys", 2));
        StateReporter reporter = new StateReporter(args, "TopSpeedWindowing");
        StreamExecutionEnvironment env = SandboxJobs.environment(args);
        SandboxJobs.discard(SandboxJobs.sequence(env, args)
                .keyBy(value -> (int) (value % cars), Types.INT)
                .process(new Car(reporter))
                .uid("flinkop-top-speed")
                .name("flinkop-top-speed"));
        env.execute(reporter.jobName());
    }

    /** Deterministic pseudo-random speed for reading {@code index}. */
    static int speedOf(long index) {
        long mixed = index * 0x9E3779B97F4A7C15L;
        return 50 + (int) Math.floorMod(mixed >>> 17, 100L);
    }

    /** Per-car keyed state. */
    static final class Car extends KeyedProcessFunction<Integer, Long, Integer> {
        private static final long serialVersionUID = 1L;
        private final StateReporter reporter;
        private transient ValueState<Long> readings;
        private transient ValueState<Double> distance;
        private transient ValueState<Integer> topSpeed;

        Car(StateReporter reporter) {
            this.reporter = reporter;
        }

        @Override
        public void open(OpenContext context) {
            readings = getRuntimeContext().getState(new ValueStateDescriptor<>("readings", Types.LONG));
            distance = getRuntimeContext().getState(new ValueStateDescriptor<>("distance", Types.DOUBLE));
            topSpeed = getRuntimeContext().getState(new ValueStateDescriptor<>("topSpeed", Types.INT));
            reporter.open(getRuntimeContext());
        }

        @Override
        public void processElement(Long value, Context ctx, Collector<Integer> out) throws Exception {
            int speed = speedOf(value);
            Long seen = readings.value();
            long count = (seen == null ? 0L : seen) + 1;
            Double driven = distance.value();
            // One reading per car per "second" of driving: metres covered at this speed.
            double metres = (driven == null ? 0.0 : driven) + speed / 3.6;
            Integer top = topSpeed.value();
            int windowTop = top == null || (count - 1) % WINDOW == 0 ? speed : Math.max(top, speed);
            readings.update(count);
            distance.update(metres);
            topSpeed.update(windowTop);
            reporter.report(ctx.getCurrentKey(), count,
                    "speed=" + speed + " topSpeed=" + windowTop + " distance=" + Math.round(metres));
            if (count % WINDOW == 0) {
                out.collect(windowTop);
            }
        }
    }
}
