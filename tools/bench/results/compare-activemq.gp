# Drawn by tools/bench/compare-activemq.sh; redraw in this directory: gnuplot compare-activemq.gp
set terminal svg size 1250,470 dynamic enhanced font "Helvetica,12" background rgb "white"
set output "compare-activemq.svg"
$tput << EOD
"(a) 1 producer" 692.7 356.5 1207.4 989.0 367.3 2662.7
"(b) 8 producers" 766.4 725.3 1435.8 3960.6 3020.0 6035.7
"(c) pipelined" 711.2 499.5 1415.9 28272.2 11397.2 42931.9
"(c') last receipt" 10389.5 8631.7 16583.8 29350.4 20099.1 34625.2
"(d) drain" 9068.4 7258.5 11012.9 46342.1 27283.8 57565.7
"(e) fan-out" 43736.3 25860.7 45893.4 127796.7 72604.3 171119.4
EOD
$fail << EOD
0 9923.8 4838.0 12500.5 1 "ActiveMQ\n10 s poll"
1 3102.3 2209.9 3203.0 1 "ActiveMQ\n500 ms poll"
2 434.9 411.6 590.5 2 "Tandem"
EOD
$conn << EOD
0 23.6 21.97 24.4 1 "ActiveMQ"
1 3.91 3.89 3.94 2 "Tandem"
EOD
set linetype 1 lc rgb "#c0504d"
set linetype 2 lc rgb "#4f81bd"
set multiplot layout 1,3 title "Tandem vs ActiveMQ 5.17.2+dfsg-2+deb12u1, 2026-12-05 08:04 UTC, 2 CPUs, medians of 5 rounds (bars: min-max)"
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
set yrange [10:37501.5]
set format y '%.0f'
set style data boxes
set boxwidth 0.6
set xtics norotate
unset key
set xrange [-0.6:2.6]
set title "kill -9 of the active -> first receipt\nfrom the standby, ms (lower is better)"
plot $fail using 1:2:5:xtic(6) with boxes lc variable, '' using 1:2:3:4 with yerrorbars lc rgb "black" pt 7 ps 0.3, '' using 1:4:(sprintf("%.0f", $2)) with labels offset 0,0.8
unset logscale y
set yrange [0:30.5]
set format y '%g'
set style data boxes
set boxwidth 0.6
set xtics norotate
unset key
set xrange [-0.6:1.6]
set title "memory per idle connection, KiB\n(peak RSS growth / connections; lower is better)"
plot $conn using 1:2:5:xtic(6) with boxes lc variable, '' using 1:2:3:4 with yerrorbars lc rgb "black" pt 7 ps 0.3, '' using 1:4:(sprintf("%.1f", $2)) with labels offset 0,0.8
unset multiplot
