# Drawn by tools/bench/compare-activemq.sh; redraw in this directory: gnuplot compare-activemq.gp
set terminal svg size 1250,470 dynamic enhanced font "Helvetica,12" background rgb "white"
set output "compare-activemq.svg"
$tput << EOD
"(a) 1 producer" 1517.8 1402.4 1991.0 2610.7 2316.6 3104.2
"(b) 8 producers" 2333.1 2184.8 2545.7 10217.7 8179.3 11801.4
"(c) pipelined" 2468.8 2062.6 2983.5 51493.6 50002.5 59837.0
"(c') last receipt" 20354.6 16177.0 22647.6 73062.6 47690.2 80788.1
"(d) drain" 14048.2 11016.6 14807.8 68540.8 52339.4 85348.1
"(e) fan-out" 59848.9 51202.5 65063.7 209166.7 161676.8 233101.7
EOD
$fail << EOD
0 8945.3 4079.2 10049.6 1 "ActiveMQ\n10 s poll"
1 1037.6 768.9 1432.1 1 "ActiveMQ\n500 ms poll"
2 598.2 403.4 790.6 2 "Tandem"
EOD
$conn << EOD
0 21.66 20.87 22.4 1 "ActiveMQ"
1 4.06 3.94 4.06 2 "Tandem"
EOD
set linetype 1 lc rgb "#c0504d"
set linetype 2 lc rgb "#4f81bd"
set multiplot layout 1,3 title "Tandem vs ActiveMQ 5.17.2+dfsg-2+deb12u1, 2026-12-05 16:15 UTC, 2 CPUs, medians of 5 rounds (bars: min-max)"
set style fill solid 0.85 border -1
set bmargin 5
set grid ytics
set key top left
set logscale y
set yrange [10:*]
set format y "%.0s%c"
set title "throughput, msgs/s (deliveries/s for fan-out)\nhigher is better"
set style data histogram
set style histogram errorbars gap 1 lw 1
set xtics rotate by -25 scale 0
plot $tput using 2:3:4:xtic(1) title "ActiveMQ" lt 1, '' using 5:6:7 title "Tandem" lt 2
unset style data
set logscale y
set yrange [10:30148.800000000003]
set format y '%.0f'
set style data boxes
set boxwidth 0.6
set xtics norotate
unset key
set xrange [-0.6:2.6]
set title "kill -9 of the active -> first receipt\nfrom the standby, ms (lower is better)"
plot $fail using 1:2:5:xtic(6) with boxes lc variable, '' using 1:2:3:4 with yerrorbars lc rgb "black" pt 7 ps 0.3, '' using 1:4:(sprintf("%.0f", $2)) with labels offset 0,0.8
unset logscale y
set yrange [0:28.0]
set format y '%g'
set style data boxes
set boxwidth 0.6
set xtics norotate
unset key
set xrange [-0.6:1.6]
set title "memory per idle connection, KiB\n(peak RSS growth / connections; lower is better)"
plot $conn using 1:2:5:xtic(6) with boxes lc variable, '' using 1:2:3:4 with yerrorbars lc rgb "black" pt 7 ps 0.3, '' using 1:4:(sprintf("%.1f", $2)) with labels offset 0,0.8
unset multiplot
