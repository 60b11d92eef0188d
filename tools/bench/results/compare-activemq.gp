# Drawn by tools/bench/compare-activemq.sh; redraw in this directory: gnuplot compare-activemq.gp
set terminal svg size 1250,470 dynamic enhanced font "Helvetica,12" background rgb "white"
set output "compare-activemq.svg"
$tput << EOD
"(a) 1 producer" 1251.1 931.3 1426.3 2051.2 1336.7 2167.5
"(b) 8 producers" 1764.3 1583.0 1869.3 8080.5 6622.2 9016.9
"(c) pipelined" 1829.6 1769.8 2009.5 53316.3 47986.0 69774.8
"(c') last receipt" 14226.1 13480.8 16667.4 60911.3 50359.8 66948.3
"(d) drain" 10532.4 9164.3 13257.8 58010.1 52749.2 71958.8
"(e) fan-out" 45846.0 35274.6 50342.5 161729.0 147471.5 196377.0
EOD
$fail << EOD
0 9095.2 3843.5 9744.5 1 "ActiveMQ\n10 s poll"
1 1234.6 877.1 1376.0 1 "ActiveMQ\n500 ms poll"
2 697.5 408.0 782.1 2 "Tandem"
EOD
$conn << EOD
0 21.36 21.02 22.96 1 "ActiveMQ"
1 4.06 4.01 4.06 2 "Tandem"
EOD
set linetype 1 lc rgb "#c0504d"
set linetype 2 lc rgb "#4f81bd"
set multiplot layout 1,3 title "Tandem vs ActiveMQ 5.17.2+dfsg-2+deb12u1, 2026-12-05 11:54 UTC, 2 CPUs, medians of 5 rounds (bars: min-max)"
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
set yrange [10:29233.5]
set format y '%.0f'
set style data boxes
set boxwidth 0.6
set xtics norotate
unset key
set xrange [-0.6:2.6]
set title "kill -9 of the active -> first receipt\nfrom the standby, ms (lower is better)"
plot $fail using 1:2:5:xtic(6) with boxes lc variable, '' using 1:2:3:4 with yerrorbars lc rgb "black" pt 7 ps 0.3, '' using 1:4:(sprintf("%.0f", $2)) with labels offset 0,0.8
unset logscale y
set yrange [0:28.700000000000003]
set format y '%g'
set style data boxes
set boxwidth 0.6
set xtics norotate
unset key
set xrange [-0.6:1.6]
set title "memory per idle connection, KiB\n(peak RSS growth / connections; lower is better)"
plot $conn using 1:2:5:xtic(6) with boxes lc variable, '' using 1:2:3:4 with yerrorbars lc rgb "black" pt 7 ps 0.3, '' using 1:4:(sprintf("%.1f", $2)) with labels offset 0,0.8
unset multiplot
